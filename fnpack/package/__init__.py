"""Building serving functions: the function object, serialization, the nuclio config writer."""

from .config import BuildResult
from .errors import BuildError
from .function import ServingFunction, ServingSpec, code_to_function, new_function, write_function

__all__ = [
    "BuildError",
    "BuildResult",
    "ServingFunction",
    "ServingSpec",
    "code_to_function",
    "new_function",
    "write_function",
]
