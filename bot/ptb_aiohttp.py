"""python-telegram-bot's request layer on aiohttp instead of httpx.

PTB lets an application bring its own transport by subclassing `telegram.request.BaseRequest`
(https://docs.python-telegram-bot.org/en/stable/telegram.request.baserequest.html): it hands
`do_request` a URL, a method and a `RequestData`, and wants back `(status, body bytes)`.
Chorus uses it because httpx's connection pool costs several times more CPU per request than
aiohttp's (measured by `make bench`: PTB's paid broadcast reached 267 messages/s on httpx), and
aiohttp is installed anyway (aiogram, the default runtime, is built on it).

Calls without a file go as one JSON body encoded by orjson (`RequestData.parameters`, PTB's
documented way to bring another JSON library), as aiogram's session posts them: PTB's own way,
a form of fields each JSON-encoded by the standard library and then URL-encoded, cost about a
third of the CPU of a broadcast message (profiled: urlencode alone 4.6 s of 10,000 sends). A
call with a file goes as multipart form data. Answers are parsed by orjson too
(`parse_json_payload`, which PTB documents as the method to override for that).

Errors follow PTB's contract, so PTB behaves as with its own request class: a timeout raises
`telegram.error.TimedOut`, any other failure to get an answer `telegram.error.NetworkError`;
an HTTP answer (2xx or not) is returned for PTB (or Chorus's subclass) to judge.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

CONNECT_TIMEOUT = 5.0  # seconds, as PTB's HTTPXRequest
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0
POOL_TIMEOUT = 1.0
JSON_HEADERS = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession`.

    `connection_pool_size` caps the connections open at once (PTB's default is 1, which
    serialises every call); timeouts are in seconds, `None` meaning no limit. aiohttp has no
    separate write and pool timeouts: the write timeout bounds sending the body together with
    connecting (`sock_connect`), and waiting for a free connection counts towards the total.
    """

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = READ_TIMEOUT,
        connect_timeout: float | None = CONNECT_TIMEOUT,
        write_timeout: float | None = WRITE_TIMEOUT,
        pool_timeout: float | None = POOL_TIMEOUT,
        media_write_timeout: float | None = MEDIA_WRITE_TIMEOUT,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # The timeouts of a call that passes none of its own (nearly every call), built once.
        self._default_timeouts = {
            False: self._timeouts(read_timeout, connect_timeout, write_timeout, pool_timeout),
            True: self._timeouts(read_timeout, connect_timeout, media_write_timeout, pool_timeout),
        }

    @staticmethod
    def _timeouts(
        read: float | None, connect: float | None, write: float | None, pool: float | None
    ) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=None,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect if write is None or connect is None else max(connect, write),
            sock_read=read,
        )

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """Parses Telegram's answer with orjson; what orjson refuses (not UTF-8, not JSON)
        goes to PTB's own parser, which decodes leniently or raises PTB's error."""
        try:
            answer = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return BaseRequest.parse_json_payload(payload)
        if not isinstance(answer, dict):
            return BaseRequest.parse_json_payload(payload)
        return answer

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds (PTB adds it to getUpdates' long-poll time)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Opens the session (again, after a shutdown)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        """Closes the session and its connections; harmless when already closed."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Posts the call; returns (HTTP status, body). Raises TimedOut or NetworkError."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        default = BaseRequest.DEFAULT_NONE
        files = (
            request_data.multipart_data if request_data and request_data.contains_files else None
        )
        if (
            read_timeout is default
            and write_timeout is default
            and connect_timeout is default
            and pool_timeout is default
        ):
            timeout = self._default_timeouts[bool(files)]
        else:
            timeout = self._timeouts(
                self._read_timeout if read_timeout is default else read_timeout,
                self._connect_timeout if connect_timeout is default else connect_timeout,
                (self._media_write_timeout if files else self._write_timeout)
                if write_timeout is default
                else write_timeout,
                self._pool_timeout if pool_timeout is default else pool_timeout,
            )
        body: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        if files:
            assert request_data is not None
            body = aiohttp.FormData(quote_fields=False)
            for name, value in request_data.json_parameters.items():
                body.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                body.add_field(name, content, filename=filename, content_type=mimetype)
        elif request_data is not None and (parameters := request_data.parameters):
            body, headers = orjson.dumps(parameters), JSON_HEADERS
        return await self._send(method, url, body, headers, timeout)

    async def post_json(self, url: str, body: bytes) -> tuple[int, bytes]:
        """Posts a JSON body already encoded, with the default timeouts; returns (HTTP status,
        body) as `do_request` does, and raises TimedOut or NetworkError as it does.

        The lean path for calls Chorus builds itself (bot/ptb_runtime.py): PTB's Bot would turn
        each parameter into a `RequestParameter` and back (a fifth of a broadcast message's
        CPU, profiled), only for `do_request` to encode them as this JSON body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        return await self._send("POST", url, body, JSON_HEADERS, self._default_timeouts[False])

    async def _send(
        self,
        method: str,
        url: str,
        body: aiohttp.FormData | bytes | None,
        headers: dict[str, str] | None,
        limits: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes]:
        assert self._session is not None
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=limits
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
