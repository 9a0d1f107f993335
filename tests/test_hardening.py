"""Bad input through the launched app's API: each case a clear message (or a safe result), and
the app still serving the next request. The README's "Limits and safety" table lists these cases.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request

import pytest
from conftest import call_generate
from gradio_client import Client

FACT = "Mary went to the kitchen."


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url[0], verbose=False)


def notes_mention(text: str):
    return lambda out: any(text in note for note in out[2]["notes"])


# (case, /generate fields, expected: a regex the error must match, or a check of the output)
CASES = [
    ("empty custom form", {"task": "custom"}, "question"),
    ("whitespace only", {"task": "custom", "facts": " \n\t ", "question": "   "}, "question"),
    ("facts but no question", {"task": "custom", "facts": FACT, "question": ""}, "question"),
    ("question but no facts", {"task": "custom", "question": "Where is Mary?", "facts": "\n\n"}, "fact"),
    (
        "question about a name never mentioned",
        {"task": "custom", "facts": FACT, "question": "Where is Ann?"},
        notes_mention("Ann"),
    ),
    (
        "facts contradicting each other",
        {"task": "custom", "facts": f"{FACT}\nMary moved to the office.", "question": "Where is Mary?"},
        notes_mention("2 rooms"),
    ),
    (
        "facts about two people",
        {"task": "custom", "facts": f"{FACT}\nJohn went to the garden.", "question": "Where is Mary?"},
        # the shipped names.json is quoted: how often 2 people were kept apart, and by fact order
        lambda out: (
            notes_mention("about 2 people. In evaluation rmt-minilm-babi answered")(out)
            and notes_mention("when the asked person's fact came last")(out)
        ),
    ),
    (
        "one 1.2 MB line with no sentence boundary",
        {"task": "custom", "noise_text": "word " * 240_000, "facts": FACT, "question": "Where is Mary?"},
        lambda out: out[2]["tokens"] == 2000,
    ),
    (
        "binary junk as noise",
        {"task": "custom", "noise_text": "\x00\x01\x02\xff" * 500, "facts": FACT, "question": "Where is Mary?"},
        "binary",
    ),
    (
        "control characters in a fact",
        {"task": "custom", "facts": "Mary\x07 went\x1b[31m to the kitchen.", "question": "Where is Mary?"},
        lambda out: not re.search("[\x07\x1b]", out[1] + out[2]["facts"][0]["text"]),
    ),
    (
        "emoji and other scripts",
        {"task": "custom", "facts": "Mary 🙂 went to the kitchen. Мэри", "question": "Where is Mary? 你好 🤔"},
        notes_mention("[UNK]"),
    ),
    (
        "HTML and script in the text",
        {
            "task": "custom",
            "facts": "<script>alert(1)</script> Mary went to the <b>kitchen</b>.",
            "question": "<img src=x onerror=alert(2)>Where is Mary?",
        },
        lambda out: "<script>" not in out[1] and "&lt;script&gt;" in out[1] and "<img" not in out[1],
    ),
    (
        "answer that is not a room",
        {"task": "custom", "facts": FACT, "question": "Where is Mary?", "answer": "moon"},
        "one of the rooms",
    ),
    ("length above the configured maximum", {"tokens": "999999999999"}, "limit"),
    ("length zero", {"tokens": "0"}, "positive"),
    ("negative length", {"tokens": "-5"}, "positive"),
    ("length NaN", {"tokens": "nan"}, "positive"),
    ("length infinite", {"tokens": "inf"}, "positive"),
    ("length not a number", {"tokens": "banana"}, "number"),
    ("fact depth below 0", {"depth": -10, "random_depth": False}, "less than minimum"),
    ("fact depth above 100", {"depth": 150, "random_depth": False}, "greater than maximum"),
    ("negative seed", {"seed": -1}, "seed"),
    ("seed above 2^31 - 1", {"seed": 2**31}, "seed"),
    ("fractional seed", {"seed": 1.5}, "whole number"),
    ("unknown task", {"task": "juggling"}, "unknown task|not in the list of choices"),
    ("unknown noise source", {"noise_source": "moon"}, "not in the list of choices|noise source"),
]


@pytest.mark.parametrize(("case", "fields", "expected"), CASES, ids=[c[0] for c in CASES])
def test_generate_bad_input(client, case, fields, expected) -> None:
    if isinstance(expected, str):
        with pytest.raises(Exception, match=expected):
            call_generate(client, **fields)
    else:
        assert expected(call_generate(client, **fields)), case
    assert call_generate(client)[2]["tokens"] == 2000  # still serving


def raw_call(url: str, api: str, body: bytes) -> str:
    """POST a hand-written body to Gradio's /call API and read the event stream's text back."""
    request = urllib.request.Request(
        f"{url}gradio_api/call/{api}", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            event_id = json.loads(response.read())["event_id"]
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}: {error.read().decode(errors='replace')}"
    with urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event_id}", timeout=60) as response:
        return response.read().decode()


def generate_body(**fields) -> str:
    values = {
        "task": '"memorize"',
        "tokens": '"2000"',
        "depth": "50",
        "random_depth": "true",
        "seed": "1",
        "noise_source": '"valid"',
        "noise_text": '""',
        "facts": '""',
        "question": '""',
        "answer": '""',
    }
    return '{"data": [' + ", ".join((values | fields).values()) + "]}"


@pytest.mark.parametrize(
    ("case", "body", "expected"),
    [
        ("seed NaN (raw JSON)", generate_body(seed="NaN"), "seed"),
        ("fact depth NaN (raw JSON)", generate_body(depth="NaN", random_depth="false"), "depth|nan"),
        (
            "lone surrogates (undecodable text)",
            generate_body(
                task='"custom"', noise_text='"\\udcff\\udcfe junk"', facts=f'"{FACT}"', question='"Where is Mary?"'
            ),
            "not valid UTF-8",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "",
)
def test_raw_api_bad_values(app_url, client, case, body, expected) -> None:
    reply = raw_call(app_url[0], "generate", body.encode())
    assert "event: error" in reply or reply.startswith("HTTP 4"), (case, reply[:300])
    assert re.search(expected, reply, re.IGNORECASE), (case, reply[:300])
    assert call_generate(client)[2]["tokens"] == 2000


def test_invalid_utf8_bytes_are_refused(app_url, client) -> None:
    body = generate_body(task='"custom"', facts=f'"{FACT}"', question='"Where is Mary?"').encode()
    body = body.replace(b'"noise_text"', b"").replace(b'"", "Mary', b'"\xff\xfe\xfa junk", "Mary', 1)
    reply = raw_call(app_url[0], "generate", body)
    assert reply.startswith("HTTP 4") or "event: error" in reply, reply[:300]
    assert call_generate(client)[2]["tokens"] == 2000


def read_http_reply(conn: socket.socket) -> str:
    """Read one whole HTTP reply: headers and body can arrive in separate packets (one recv is not enough)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while length and len(body) < int(length.group(1)):
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode(errors="replace")


def test_a_50_mb_paste_is_refused_before_it_is_read(app_url, client) -> None:
    """Only the headers are sent: the 413 must come back without the server waiting for the body."""
    host, port = app_url[0].removeprefix("http://").strip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n"
        )
        reply = read_http_reply(conn)
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert "Request too large: 52.4 MB" in reply and "RMT_MAX_PASTE_CHARS" in reply
    with pytest.raises(Exception, match="413"):  # and through the client, with the text really sent
        call_generate(client, task="custom", noise_text="x" * 50_000_000, facts=FACT, question="Where is Mary?")
    assert call_generate(client)[2]["tokens"] == 2000


@pytest.mark.parametrize(
    ("api", "args", "expected"),
    [
        ("/run", ("no-such-haystack",), "generate a haystack first"),
        ("/run", ("HAYSTACK", "bert-large"), r"'bert-large'.*not in the list of choices.*'rmt-minilm-babi'"),
        ("/inspect", ("no-such-haystack", 1, "1", "mean"), "generate a haystack first"),
        ("/flops", (-5,), "between 1 and"),
    ],
)
def test_other_endpoints_bad_input(client, api, args, expected) -> None:
    if "HAYSTACK" in args:  # a real haystack, so the model is what is refused
        args = tuple(call_generate(client)[0] if a == "HAYSTACK" else a for a in args)
    with pytest.raises(Exception, match=expected):
        if api == "/run":
            client.submit(*args, api_name=api).result()
        else:
            client.predict(*args, api_name=api)


@pytest.mark.parametrize(
    "path",
    [
        "gradio_api/file=/etc/passwd",
        "gradio_api/file=app.py",
        "gradio_api/file=checkpoints/rmt-minilm-babi/config.json",
        "file=/etc/passwd",
        "gradio_api/file=../../../../etc/passwd",
    ],
)
def test_no_file_is_served_outside_assets(app_url, path) -> None:
    try:
        with urllib.request.urlopen(app_url[0] + path, timeout=10) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    for secret in (b"root:x:", b"Wiring only: every computation", b'"num_mem_tokens"'):
        assert secret not in body, (path, status)
