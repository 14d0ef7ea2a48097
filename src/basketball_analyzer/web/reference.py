"""`/docs`: the API reference as one plain HTML page made from the OpenAPI schema, with no script.

FastAPI's Swagger UI loads its scripts from a CDN, which a machine offline (or a strict Content-Security-Policy)
cannot reach; this page needs nothing but the app. The schema itself stays at `/openapi.json` for any client.
"""

from __future__ import annotations

from html import escape

_METHODS = ("get", "head", "post", "put", "patch", "delete")


def reference_page(schema: dict) -> str:
    """The HTML page listing every route of `schema`: method, path, what it does, its parameters and body."""
    rows = []
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is not None:
                rows.append(_row(method, path, op))
    info = schema.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}: API</title>'
            '<link rel="stylesheet" href="/static/style.css"></head><body>'
            f'<main><h1>{title}: API</h1><p>JSON over HTTP; errors are <code>{{"error": "one line"}}</code>. '
            'The machine-readable schema is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3); load it into '
            'any OpenAPI client. Pages: <a href="/">videos</a>, <a href="/jobs">jobs</a>.</p>'
            '<table id="routes"><thead><tr><th>method</th><th>path</th><th>what</th><th>parameters</th></tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></main></body></html>\n')


def _row(method: str, path: str, op: dict) -> str:
    what = (op.get("description") or op.get("summary") or "").strip().splitlines()
    params = [_param(p) for p in op.get("parameters", [])]
    body = op.get("requestBody", {}).get("content", {})
    for kind, content in body.items():
        ref = content.get("schema", {}).get("$ref", "")
        params.append(f"body: {escape(kind)}" + (f" ({escape(ref.rsplit('/', 1)[-1])})" if ref else ""))
    return (f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code></td>"
            f"<td>{escape(' '.join(what))}</td><td>{'<br>'.join(params)}</td></tr>")


def _param(p: dict) -> str:
    schema = p.get("schema", {})
    kind = schema.get("type") or " | ".join(s.get("type", "?") for s in schema.get("anyOf", [])) or "?"
    limits = [f"{k} {schema[k]}" for k in ("minimum", "maximum") if k in schema]
    text = f"{p.get('name')} ({p.get('in')}, {kind}{', required' if p.get('required') else ''})"
    return escape(text + (f" [{', '.join(limits)}]" if limits else ""))
