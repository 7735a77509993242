"""Cron schedules as nuclio's cron trigger reads them: 5 fields (minute first), 6 fields (seconds first),
or a descriptor (``@hourly``, ``@every 10s`` ...). ``next_after`` gives the next firing time."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from fnpack.emulator.config import parse_duration
from fnpack.emulator.errors import FunctionConfigError

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
# (name, low, high, names)
_FIELDS = (
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


@dataclass(frozen=True)
class CronSchedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month field was '*'
    any_weekday: bool  # day-of-week field was '*'

    def _day_matches(self, d: datetime.datetime) -> bool:
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow  # both restricted: either matches (classic cron)

    def next_after(self, now: datetime.datetime) -> datetime.datetime:
        """The first matching whole second strictly after ``now``."""
        t = now.replace(microsecond=0) + datetime.timedelta(seconds=1)
        limit = now + datetime.timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0, second=0) + datetime.timedelta(days=32)).replace(
                    day=1
                )
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0, second=0) + datetime.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + datetime.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t = t.replace(second=0) + datetime.timedelta(minutes=1)
                continue
            if t.second not in self.seconds:
                t += datetime.timedelta(seconds=1)
                continue
            return t
        raise FunctionConfigError("cron schedule never fires")


def _value(text: str, names: dict[str, int] | None, what: str) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"bad {what} value {text!r}")
    return int(text)


def _field(text: str, low: int, high: int, names: dict[str, int] | None, what: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"bad {what} step {step_text!r}")
        if rng in ("*", "?"):
            start, end = low, high
        elif "-" in rng:
            a, b = rng.split("-", 1)
            start, end = _value(a, names, what), _value(b, names, what)
        else:
            start = _value(rng, names, what)
            end = high if step else start
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ValueError(f"{what} {rng!r} out of range {low}-{high}")
        out.update(range(start, end + 1, step or 1))
    return out


def parse_schedule(text: str) -> CronSchedule | float:
    """A CronSchedule, or the interval in seconds for ``@every <duration>``; FunctionConfigError if malformed."""
    spec = str(text).strip()
    if spec.startswith("@every "):
        seconds = parse_duration(spec[len("@every ") :].strip(), f"schedule {text!r}")
        if seconds <= 0:
            raise FunctionConfigError(f"schedule {text!r}: the interval must be positive")
        return seconds
    spec = _DESCRIPTORS.get(spec, spec)
    parts = spec.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise FunctionConfigError(
            f"schedule {text!r}: expected 5 or 6 cron fields or a descriptor like @hourly"
        )
    try:
        sets = [_field(p, lo, hi, names, what) for p, (what, lo, hi, names) in zip(parts, _FIELDS)]
    except ValueError as exc:
        raise FunctionConfigError(f"schedule {text!r}: {exc}")
    weekdays = {d % 7 for d in sets[5]}
    return CronSchedule(
        *(frozenset(s) for s in sets[:5]),
        weekdays=frozenset(weekdays),
        any_day=parts[3] in ("*", "?"),
        any_weekday=parts[5] in ("*", "?"),
    )
