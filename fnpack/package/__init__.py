"""Building serving functions: the function object, serialization, the nuclio config writer.

    fn = fnpack.new_function("scorer", project="shop")        # or code_to_function(filename=".py|.ipynb")
    fn.set_topology("flow", engine="sync").to(MyModel, name="model")
    fn.with_http(workers=4).set_env("LOG", "1").with_requirements(["scikit-learn"])
    fn.to_mock_server().test(body={...})                       # in-process
    fn.export("function.yaml")                                 # self-contained nuclio config

Classes from ``__main__``/notebooks/local files travel by value (cloudpickle), installed ones by import
path (``fn.set_serialization`` forces either); the fnpack runtime is embedded in the function source.
"""

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
