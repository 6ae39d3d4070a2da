"""Every problem the test suite's requests get back is documented: its status among the
operation's responses and its `code` in that response's enum. Generated clients read `code` as
an enum and fail on one it does not list, so the whole suite checks the document's lists."""

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from outreach.kit.problems import PROBLEM_MEDIA_TYPE


@dataclass
class ProblemLedger:
    """The problems answered to the test client, checked against the OpenAPI document."""

    document: dict[str, Any] | None = None
    undocumented: set[str] = field(default_factory=set)

    def operations(self) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
        assert self.document is not None
        return [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path, item)
            for path, item in self.document["paths"].items()
        ]

    def watch(self, client: httpx.Client, document: dict[str, Any]) -> None:
        self.document = document
        operations = self.operations()
        schemas = document["components"]["schemas"]

        def check(response: httpx.Response) -> None:
            if not response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
                return
            response.read()
            method, path = response.request.method.lower(), response.request.url.path
            # the route a request reaches: literal segments before parameters (`/contacts/import`
            # before `/contacts/{contact_id}`)
            matched = sorted(
                (route.count("{"), route, item)
                for pattern, route, item in operations
                if pattern.match(path) and method in item
            )
            if not matched:
                return  # no such route: the 404 or 405 of any path
            _, path, item = matched[0]
            code = response.json().get("code")
            documented = item[method]["responses"].get(str(response.status_code))
            if documented is None:
                self.undocumented.add(f"{method.upper()} {path}: status {response.status_code}")
                return
            schema = documented["content"][PROBLEM_MEDIA_TYPE]["schema"]
            if "$ref" in schema:
                schema = schemas[schema["$ref"].split("/")[-1]]
            if code not in schema["properties"]["code"]["enum"]:
                self.undocumented.add(f"{method.upper()} {path}: {response.status_code} {code}")

        client.event_hooks["response"].append(check)


LEDGER = ProblemLedger()
