"""The shared helpers of `llm_router.formats`: invented ids."""

from __future__ import annotations

import os
import string

import pytest

from llm_router.formats import random_hex, responses
from llm_router.formats._chat_response import new_id
from llm_router.universal import Response, TextPart


def test_invented_ids_are_hex_of_the_asked_length_and_do_not_repeat() -> None:
    ids = {random_hex(16) for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 32 and set(i) <= set(string.hexdigits.lower()) for i in ids)
    assert new_id("chatcmpl-").startswith("chatcmpl-") and len(new_id("chatcmpl-")) == 33
    out = responses.render_response(Response((TextPart("hi"),)))
    assert out["id"].startswith("resp_") and out["output"][0]["id"].startswith("msg_")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_draws_ids_of_its_own() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        try:
            os.write(write, random_hex(16).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert len(child) == 32 and child != random_hex(16)
