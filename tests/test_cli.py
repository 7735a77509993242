import subprocess
import sys

from fnpack import __version__
from fnpack.cli import main


def test_version_flag(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_console_script_help_lists_usage():
    out = subprocess.run(
        [sys.executable, "-m", "fnpack.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "usage: fnpack" in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: fnpack" in capsys.readouterr().out
