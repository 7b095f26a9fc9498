"""A wire-level Elasticsearch fake: a local HTTP server answering the requests Parley sends.

No Elasticsearch can run on these machines, so the backend is tested through the official
client against this server. It records every request (method, path, query string, parsed
body) and answers as Elasticsearch documents it, with the `x-elastic-product` header the
client insists on. It evaluates the subset of the query DSL Parley emits (bool filter / must /
should / must_not with minimum_should_match, match, match_phrase, prefix, term, terms, range,
match_all), sorts with search_after, counts, aggregates (terms, date_histogram by day),
honours external versioning in _bulk (per-item 409 for a stale version, tombstones for
deletes), and only shows documents after a refresh.

It answers from the index's mapping, as Elasticsearch would, and shares no code with Parley:
a text field is analysed by the analyzer its mapping names (only a whitespace tokenizer is
implemented, which is all Parley's mapping uses; any other is refused), a query on a field the
mapping does not index is a 400, and a request part it does not implement is a 400 rather than
silently ignored.
"""

import fnmatch
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CONTENT_TYPE = "application/vnd.elasticsearch+json;compatible-with=9"
SEARCH_KEYS = {"query", "sort", "size", "track_total_hits", "search_after", "aggs"}
KEYWORD_TYPES = {"keyword", "long", "boolean", "date"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: object


class RequestError(Exception):
    """What Elasticsearch answers 400 to (the query names a field it cannot search, ...)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass
class FakeIndex:
    settings: dict = field(default_factory=dict)  # from the matching index template
    mappings: dict = field(default_factory=dict)
    docs: dict[str, dict] = field(default_factory=dict)  # id -> {"version", "source"}
    tombstones: dict[str, int] = field(default_factory=dict)
    visible: dict[str, dict] = field(default_factory=dict)  # as of the last refresh

    def refresh(self) -> None:
        self.visible = {key: dict(value) for key, value in self.docs.items()}


def _field(index: FakeIndex, name: str) -> dict:
    """Return a field's mapping, or raise what Elasticsearch says of a field it cannot search."""
    mapping = index.mappings.get("properties", {}).get(name)
    if mapping is None:
        raise RequestError("query_shard_exception", f"No mapping found for [{name}]")
    if mapping.get("index") is False:
        raise RequestError(
            "query_shard_exception",
            f"failed to create query: Cannot search on field [{name}] since it is not indexed.",
        )
    return mapping


def _analyze(index: FakeIndex, name: str, text: str) -> list[str]:
    """Return the tokens of a text field's value by the analyzer its mapping names."""
    mapping = _field(index, name)
    analyzer_name = mapping.get("analyzer", "standard")
    analyzer = index.settings.get("analysis", {}).get("analyzer", {}).get(analyzer_name)
    if analyzer is None or analyzer.get("tokenizer") != "whitespace" or analyzer.get("filter"):
        raise NotImplementedError(f"the fake implements whitespace analyzers only, not {analyzer}")
    return text.split()


def _values(source: dict, name: str) -> list:
    value = source.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _leaf(kind: str, spec: dict) -> tuple[str, object]:
    ((name, value),) = spec.items()
    if isinstance(value, dict):
        value = value.get("query", value.get("value"))
    return name, value


def query_check(query: dict, index: FakeIndex) -> None:
    """Raise what Elasticsearch answers to a query naming a field it cannot search."""
    ((kind, spec),) = query.items()
    if kind == "match_all":
        return
    if kind == "bool":
        for clause in ("filter", "must", "must_not", "should"):
            for child in spec.get(clause, []):
                query_check(child, index)
        return
    ((name, _),) = spec.items()
    _field(index, name)


def matches(query: dict, source: dict, index: FakeIndex) -> bool:
    """Evaluate a query DSL subset against one document source."""
    ((kind, spec),) = query.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        filters = spec.get("filter", []) + spec.get("must", [])
        if not all(matches(q, source, index) for q in filters):
            return False
        if any(matches(q, source, index) for q in spec.get("must_not", [])):
            return False
        should = spec.get("should", [])
        if should:
            needed = spec.get("minimum_should_match", 0 if filters else 1)
            return sum(matches(q, source, index) for q in should) >= needed
        return True
    if kind == "terms":
        ((name, wanted),) = spec.items()
        _field(index, name)
        return any(value in wanted for value in _values(source, name))
    if kind == "term":
        name, wanted = _leaf(kind, spec)
        _field(index, name)
        return wanted in _values(source, name)
    if kind == "range":
        ((name, bounds),) = spec.items()
        _field(index, name)
        values = _values(source, name)
        return any(
            ("gte" not in bounds or v >= bounds["gte"])
            and ("gt" not in bounds or v > bounds["gt"])
            and ("lte" not in bounds or v <= bounds["lte"])
            and ("lt" not in bounds or v < bounds["lt"])
            for v in values
        )
    name, wanted = _leaf(kind, spec)
    mapping = _field(index, name)
    if kind == "prefix":
        if mapping["type"] in KEYWORD_TYPES:  # keyword fields: the whole value
            return any(str(v).startswith(wanted) for v in _values(source, name))
        return any(
            token.startswith(wanted) for token in _analyze(index, name, source.get(name, ""))
        )
    if mapping["type"] != "text":
        raise NotImplementedError(f"the fake does not implement {kind} on a {mapping['type']}")
    tokens = _analyze(index, name, source.get(name, ""))
    wanted_tokens = _analyze(index, name, wanted)
    if kind == "match":  # default operator OR
        return any(token in tokens for token in wanted_tokens)
    if kind == "match_phrase":
        size = len(wanted_tokens)
        return any(tokens[i : i + size] == wanted_tokens for i in range(len(tokens) - size + 1))
    raise NotImplementedError(f"the fake does not implement the {kind} query")


class ElasticsearchFake:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.rejected_ids: set[str] = set()  # documents answered 400 (a mapping error)
        self.overloaded = False  # answer every bulk item 429, as a saturated cluster does
        self.templates: dict[str, dict] = {}
        self.indices: dict[str, FakeIndex] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                with fake.lock:
                    status, document = fake.answer(self.command, parts.path, parts.query, raw)
                payload = b"" if document is None else json.dumps(document).encode()
                self.send_response(status)
                self.send_header("x-elastic-product", "Elasticsearch")
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, method: str, suffix: str) -> list:
        return [r.body for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def answer(self, method: str, path: str, query_string: str, raw: bytes):
        query = {k: v[-1] for k, v in parse_qs(query_string).items()}
        if path.endswith("/_bulk"):
            body = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        else:
            body = json.loads(raw) if raw else None
        self.requests.append(Recorded(method, path, query, body))
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["_index_template"] and method == "PUT":
            self.templates[segments[1]] = body
            return 200, {"acknowledged": True}
        if segments == ["_bulk"] or segments[-1:] == ["_bulk"]:
            return self.bulk(body, default_index=segments[0] if len(segments) == 2 else None)
        name = segments[0]
        index = self.indices.get(name)
        if len(segments) == 1:
            if method == "HEAD":
                return (200 if index else 404), None
            if method == "PUT":
                if index is not None:
                    return 400, _error("resource_already_exists_exception", name, 400)
                # The matching template of the highest priority applies, as in Elasticsearch.
                matching = [
                    t
                    for t in self.templates.values()
                    if any(fnmatch.fnmatch(name, p) for p in t["index_patterns"])
                ]
                template = (
                    max(matching, key=lambda t: t.get("priority", 0))["template"]
                    if matching
                    else {}
                )
                self.indices[name] = FakeIndex(
                    settings=template.get("settings", {}), mappings=template.get("mappings", {})
                )
                return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
        if index is None:
            return 404, _error("index_not_found_exception", f"no such index [{name}]", 404)
        action = segments[1]
        if action == "_refresh":
            index.refresh()
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if action == "_delete_by_query":
            doomed = [
                key
                for key, doc in index.docs.items()
                if matches(body["query"], doc["source"], index)
            ]
            for key in doomed:
                del index.docs[key]
            if query.get("refresh") == "true":
                index.refresh()
            return 200, {"deleted": len(doomed), "total": len(doomed), "failures": []}
        if action == "_search":
            try:
                return 200, self.search(index, body or {})
            except RequestError as error:
                return 400, _error(error.kind, error.reason, 400)
        return 400, _error("illegal_argument_exception", f"fake: {method} {path}", 400)

    def bulk(self, lines: list[dict], *, default_index: str | None):
        items, errors, position = [], False, 0
        while position < len(lines):
            ((action, meta),) = lines[position].items()
            position += 1
            source = None
            if action in ("index", "create", "update"):
                source = lines[position]
                position += 1
            name = meta.get("_index", default_index)
            index = self.indices.setdefault(name, FakeIndex())  # auto-create, as ES does
            key, version = meta["_id"], meta.get("version")
            assert meta.get("version_type") == "external", "Parley always versions externally"
            current = index.docs.get(key, {}).get("version", index.tombstones.get(key))
            result = {"_index": name, "_id": key}
            if self.overloaded:
                errors = True
                result |= {
                    "status": 429,
                    "error": {"type": "es_rejected_execution_exception", "reason": "queue full"},
                }
            elif key in self.rejected_ids:
                errors = True
                result |= {
                    "status": 400,
                    "error": {"type": "document_parsing_exception", "reason": "rejected"},
                }
            elif current is not None and version <= current:
                errors = True
                result |= {
                    "status": 409,
                    "error": {
                        "type": "version_conflict_engine_exception",
                        "reason": f"[{key}]: version conflict, current version [{current}] is "
                        f"higher or equal to the one provided [{version}]",
                    },
                }
            elif action == "index":
                created = key not in index.docs
                index.docs[key] = {"version": version, "source": source}
                index.tombstones.pop(key, None)
                status = 201 if created else 200
                result |= {"_version": version, "result": "created" if created else "updated"}
                result |= {"status": status}
            elif action == "delete":
                existed = index.docs.pop(key, None) is not None
                index.tombstones[key] = version
                result |= {"_version": version, "result": "deleted" if existed else "not_found"}
                result |= {"status": 200 if existed else 404}
                errors = errors or not existed
            items.append({action: result})
        return 200, {"took": 1, "errors": errors, "items": items}

    def search(self, index: FakeIndex, body: dict) -> dict:
        unknown = set(body) - SEARCH_KEYS
        if unknown:
            raise RequestError("x_content_parse_exception", f"fake: unsupported {sorted(unknown)}")
        query = body.get("query", {"match_all": {}})
        query_check(query, index)
        found_ids = {
            id(d["source"]): key
            for key, d in index.visible.items()
            if matches(query, d["source"], index)
        }
        everything = [d["source"] for d in index.visible.values() if id(d["source"]) in found_ids]
        sort = [next(iter(s.items())) for s in body.get("sort", [])]

        def key(source: dict) -> tuple:
            return tuple(source[name] for name, _ in sort)

        assert all(order == "desc" for _, order in sort), "the fake sorts descending only"
        found = sorted(everything, key=key, reverse=True)
        total, relation = len(found), "eq"
        tracked = body.get("track_total_hits", 10_000)
        if tracked is not True and tracked is not False and total > tracked:
            total, relation = tracked, "gte"
        if "search_after" in body:
            after = tuple(body["search_after"])
            found = [s for s in found if key(s) < after]
        hits = [
            {
                "_index": "i",
                "_id": found_ids[id(source)],
                "_source": source,
                "sort": list(key(source)),
            }
            for source in found[: body.get("size", 10)]
        ]
        response = {
            "took": 1,
            "timed_out": False,
            "hits": {"total": {"value": total, "relation": relation}, "hits": hits},
        }
        if tracked is False:  # no count asked: Elasticsearch leaves `total` out
            del response["hits"]["total"]
        if "aggs" in body:
            response["aggregations"] = {
                name: _aggregate(spec, everything) for name, spec in body["aggs"].items()
            }
        return response


def _aggregate(spec: dict, sources: list[dict]) -> dict:
    if "terms" in spec:
        name, size = spec["terms"]["field"], spec["terms"].get("size", 10)
        counts: dict = {}
        for source in sources:
            for value in _values(source, name):
                counts[value] = counts.get(value, 0) + 1
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return {"buckets": [{"key": k, "doc_count": n} for k, n in ordered[:size]]}
    histogram = spec["date_histogram"]
    assert histogram["calendar_interval"] == "day"
    assert histogram["format"] == "yyyy-MM-dd"
    days: dict[str, int] = {}
    for source in sources:
        day = datetime.fromisoformat(source[histogram["field"]]).astimezone(UTC).date()
        days[day.isoformat()] = days.get(day.isoformat(), 0) + 1
    buckets = []
    for day in sorted(days):
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        buckets.append(
            {"key_as_string": day, "key": int(start.timestamp() * 1000), "doc_count": days[day]}
        )
    return {"buckets": buckets}


def _error(kind: str, reason: str, status: int) -> dict:
    return {"error": {"type": kind, "reason": reason, "root_cause": []}, "status": status}
