"""OpenAPI 3.1 built from the routes and the schemas resources declare."""

from __future__ import annotations

import re
from typing import Any

import falcon

from api.policy import Access
from api.resources.base import Resource, send

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PATH_PARAMETER = re.compile(r"{(\w+)}")


def build_spec(routes: list[tuple[str, object]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for template, resource in routes:
        item: dict[str, Any] = {}
        policy = getattr(resource, "policy", {})
        schemas = getattr(resource, "schemas", {})
        for method in METHODS:
            if method not in policy:
                continue
            need = policy[method]
            operation: dict[str, Any] = {
                "summary": (resource.__class__.__doc__ or resource.__class__.__name__).strip().splitlines()[0],
                "x-access": need.value,
                "responses": {
                    "default": {"description": "problem+json on error", "content": {"application/problem+json": {}}}
                },
            }
            if need is not Access.PUBLIC:
                operation["security"] = [{"bearer": []}, {"cookie": []}]
            operation["responses"]["2XX"] = _success(resource, method)
            parameters = _path_parameters(template)
            if parameters:
                operation["parameters"] = parameters
            if method in schemas:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schemas[method].openapi()}},
                }
            elif method in getattr(resource, "consumes", {}):
                binary = {"schema": {"type": "string", "format": "binary"}}
                operation["requestBody"] = {"required": True, "content": {m: binary for m in resource.consumes[method]}}
            item[method.lower()] = operation
        if item:
            paths[template] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Warden", "version": "0.1.0"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "access_token"},
            }
        },
    }


def _path_parameters(template: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}
        for name in PATH_PARAMETER.findall(template)
    ]


def _success(resource: object, method: str) -> dict[str, Any]:
    """What a 2xx answer carries: JSON unless the resource declares ``produces``."""
    media = getattr(resource, "produces", {}).get(method, ("application/json",))
    return {"description": "success (204 answers have no body)", "content": {m: {} for m in media}}


class OpenApi(Resource):
    policy = {"GET": Access.PUBLIC}

    def __init__(self, deps: Any, routes: list[tuple[str, object]]) -> None:
        super().__init__(deps)
        self._routes = routes

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, build_spec(self._routes))
