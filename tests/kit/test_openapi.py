"""kit.openapi: the error responses declared once, and the kernel's failures on every operation."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, File, UploadFile
from pydantic import BaseModel

from kit.openapi import (
    OAUTH_ERROR_CONTENT,
    PAGE_CONTENT,
    PROBLEM_CONTENT,
    VALIDATION_PROBLEM_CONTENT,
    bearer_problem_responses,
    combine,
    document_failures,
    oauth_error_responses,
    page_responses,
    problem_responses,
    problems_everywhere,
)
from kit.problems import PROBLEM_JSON


class Thing(BaseModel):
    name: str


def test_problem_responses_are_problem_json_and_invalid_input_lists_its_errors():
    responses = problem_responses(404, 422)
    assert responses[404]["content"] == PROBLEM_CONTENT
    assert responses[404]["description"] == "Not Found"
    assert responses[422]["content"] == VALIDATION_PROBLEM_CONTENT


def test_only_a_challenged_401_requires_www_authenticate():
    challenged = bearer_problem_responses(404)
    assert challenged[401]["headers"]["WWW-Authenticate"]["required"] is True
    assert "headers" not in challenged[403]
    assert set(challenged) == {401, 403, 404, 503}
    assert "headers" not in problem_responses(401)[401]
    assert oauth_error_responses(401, challenge=True)[401]["content"] == OAUTH_ERROR_CONTENT


def test_combine_keeps_every_media_type_and_the_first_description():
    combined = combine(page_responses(400), oauth_error_responses(400))
    assert combined[400]["content"] == {**PAGE_CONTENT, **OAUTH_ERROR_CONTENT}
    assert combined[400]["description"] == "Bad Request"


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{name}", response_model=Thing, responses=page_responses(503))
    def read(name: str) -> Thing:
        return Thing(name=name)

    @app.post("/things", response_model=Thing)
    def create(thing: Thing) -> Thing:
        return thing

    @app.post("/uploads")
    def upload(file: Annotated[UploadFile, File()]) -> None:
        return None

    document_failures(app, problems_everywhere, validation_content=VALIDATION_PROBLEM_CONTENT)
    return app


def test_every_operation_gets_the_kernel_failures_in_the_service_format():
    document = build_app().openapi()
    read = document["paths"]["/things/{name}"]["get"]["responses"]
    assert {"400", "431", "503"} <= set(read)
    assert not {"408", "413", "415"} & set(read)  # nothing reads a GET's body
    # The route's own page stays beside the kernel's problem.
    assert set(read["503"]["content"]) == {"text/html", PROBLEM_JSON}
    assert "Retry-After" in read["503"]["headers"]
    create = document["paths"]["/things"]["post"]["responses"]
    assert {"400", "408", "413", "415", "431", "503"} <= set(create)
    upload = document["paths"]["/uploads"]["post"]["responses"]
    assert "415" not in upload  # it takes multipart bodies


def test_invalid_input_is_documented_in_the_service_format():
    document = build_app().openapi()
    assert document["paths"]["/things"]["post"]["responses"]["422"]["content"] == VALIDATION_PROBLEM_CONTENT
    schemas = document["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "OAuthError"} <= set(schemas)
    assert "HTTPValidationError" not in schemas


def test_the_document_is_built_once():
    app = build_app()
    assert app.openapi() is app.openapi()
