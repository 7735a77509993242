"""The Dockerfile of a function image, as nuclio itself lays a Python function out.

Layout (from nuclio's "deploy functions from a Dockerfile" docs and its Python runtime builder): nuclio's
processor binary and Python wrapper come from the ``handler-builder-python-onbuild`` image, the handler
module goes under ``/opt/nuclio``, the function config at ``/etc/nuclio/config/processor/processor.yaml``,
and the image runs ``processor``. Without a processor stage the image is the base image plus the build
commands and the handler (for runners other than nuclio's processor, and for tests without a registry).
"""

from __future__ import annotations

import json

HANDLER_DIR = "/opt/nuclio"
PROCESSOR_CONFIG = "/etc/nuclio/config/processor/processor.yaml"
DEFAULT_NUCLIO_VERSION = "1.13.0"
ONBUILD_IMAGE = "quay.io/nuclio/handler-builder-python-onbuild:{version}-{arch}"

_PROCESSOR_STAGE = "FROM {processor_image} AS processor\n"
_PROCESSOR_COPY = """\
# nuclio's processor and Python wrapper, and the wheels of nuclio-sdk + msgpack it ships
COPY --from=processor /home/nuclio/bin/processor /usr/local/bin/processor
COPY --from=processor /home/nuclio/bin/py /opt/nuclio/
COPY --from=processor /home/nuclio/bin/py*-whl/* /opt/nuclio/whl/
RUN python /opt/nuclio/whl/$(basename /opt/nuclio/whl/pip-*.whl)/pip install pip --no-index --find-links /opt/nuclio/whl \\
 && python -m pip install nuclio-sdk msgpack --no-index --find-links /opt/nuclio/whl
"""

# the Dockerfile text lives in templates/Dockerfile (package fnpack.templates)
TEMPLATE_NAME = "Dockerfile"


def render(
    *,
    name: str,
    handler: str,
    base_image: str,
    commands: list[str],
    processor_image: str | None,
) -> str:
    """The Dockerfile text; build commands use the exec form so any quoting in them survives."""
    run_lines = "".join(f"RUN {json.dumps(['/bin/sh', '-c', str(cmd)])}\n" for cmd in commands)
    if run_lines:
        run_lines = "# spec.build.commands\n" + run_lines
    from fnpack.package.resources import read_template

    return read_template(TEMPLATE_NAME).format(
        name=name,
        handler=handler,
        name_json=json.dumps(name),
        handler_json=json.dumps(handler),
        base_image=base_image,
        processor_stage=_PROCESSOR_STAGE.format(processor_image=processor_image) if processor_image else "",
        processor_copy=_PROCESSOR_COPY if processor_image else "",
        commands=run_lines,
        handler_dir=HANDLER_DIR,
        processor_config=PROCESSOR_CONFIG,
        cmd='CMD ["processor"]\n' if processor_image else "",
    )


def onbuild_image(version: str = DEFAULT_NUCLIO_VERSION, arch: str = "amd64") -> str:
    """nuclio's image that supplies the processor; its version should match the dashboard's."""
    return ONBUILD_IMAGE.format(version=version, arch=arch)
