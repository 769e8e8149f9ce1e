"""Reading a page's form into the same input models the API validates, and its refusals into words per field."""

from typing import TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Each field's first problem, in the model's own words ("String should have at most 300 characters")."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "form"
        message = "this field is required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
        errors.setdefault(name, message[:1].upper() + message[1:])
    return errors


def parse(model: type[Model], values: dict) -> tuple[Model | None, dict[str, str]]:
    """The model built from a form's values (blank fields left out, so defaults apply), or the problems."""
    data = {key: value.strip() if isinstance(value, str) else value for key, value in values.items()}
    data = {key: value for key, value in data.items() if value not in ("", None)}
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(exc)
