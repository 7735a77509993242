"""Building serving functions: the function object, serialization, the nuclio config writer."""

from .function import ServingFunction, ServingSpec, new_function

__all__ = ["ServingFunction", "ServingSpec", "new_function"]
