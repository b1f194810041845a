"""cameo_errors: the errors an operator raises to fail a call, and their WIT form (part of
the cameo Python SDK; import it through `cameo`)."""

from componentize_py_types import Err as _Err
from wit_world.imports.types import OperatorError_Failed, OperatorError_InvalidInput


class Error(Exception):
    """A failed call; use `InvalidInput` or `Failed`."""

    def message(self):
        return str(self.args[0]) if self.args else ""


class InvalidInput(Error):
    """The input could not be understood (bad JSON, a missing field); retrying will not help."""


class Failed(Error):
    """The operator failed for another reason."""


def wit_error(error):
    """The WIT `operator-error` for an `Error`, as componentize-py raises it."""
    if isinstance(error, InvalidInput):
        return _Err(OperatorError_InvalidInput(error.message()))
    return _Err(OperatorError_Failed(error.message()))



NOT_INITIALISED = "operator is not initialised: init was not called, or it returned an error"
