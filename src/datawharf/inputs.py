"""Core input models filled by a face other than the API: backoffice forms and command-line options.

pydantic's refusal becomes the core's ``InvalidInput`` (``validation_error``), naming the fields and the
rules only: a refused value may be a secret typed in the wrong field, and pydantic's own error text
quotes the input. (The API answers its ``RequestValidationError`` in ``api/errors.py``, the same way.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from datawharf.errors import InvalidInput

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_input(model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidInput(f"Invalid input in {problems}.", error_code="validation_error") from None
