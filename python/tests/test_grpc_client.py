"""The gRPC client's defaults against a stand-in server: retries on UNAVAILABLE, deadlines,
bearer tokens; and the committed stubs are what the proto generates."""

from __future__ import annotations

import filecmp
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
import pytest

from payrisk.grpc import Client, pb
from payrisk.v1 import scoring_pb2_grpc
from conftest import REPO


class StandIn(scoring_pb2_grpc.ScoringServiceServicer):
    """Answers GetModelInfo after `failures` UNAVAILABLE replies; Score sleeps `delay`."""

    def __init__(self, failures: int = 0, delay: float = 0.0):
        self.failures, self.delay, self.calls, self.metadata = failures, delay, 0, []
        self.lock = threading.Lock()

    def GetModelInfo(self, request, context):
        with self.lock:
            self.calls += 1
            self.metadata.append(dict(context.invocation_metadata()))
            if self.calls <= self.failures:
                context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        return pb.ModelInfo(name="stand-in", version="7")

    def Score(self, request, context):
        time.sleep(self.delay)
        return pb.ScoreResponse(account_id=request.account.account_id)


@pytest.fixture()
def stand_in():
    servers = []

    def start(**kwargs) -> tuple:
        service = StandIn(**kwargs)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        scoring_pb2_grpc.add_ScoringServiceServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}", service

    yield start
    for s in servers:
        s.stop(0)


def test_calls_that_end_unavailable_are_retried(stand_in):
    # Pins: two UNAVAILABLE replies, then success, within the default three attempts; with
    # retries=1 the first failure is the caller's.
    target, service = stand_in(failures=2)
    with Client(target) as client:
        assert client.model_info().version == "7"
    assert service.calls == 3
    target, service = stand_in(failures=1)
    with Client(target, retries=1) as client:
        with pytest.raises(grpc.RpcError) as failed:
            client.model_info()
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE and service.calls == 1


def test_every_call_has_a_deadline_and_the_token_is_sent(stand_in):
    # Pins: a call past `timeout` ends DEADLINE_EXCEEDED (not a hang), and a token travels as
    # `authorization: Bearer`.
    target, service = stand_in(delay=1.0)
    with Client(target, timeout=0.1, token="t0k") as client:
        with pytest.raises(grpc.RpcError) as late:
            client.score(pb.Account(account_id="A-1"))
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert client.model_info().name == "stand-in"
    assert service.metadata[-1]["authorization"] == "Bearer t0k"


def test_the_committed_stubs_are_what_the_proto_generates(tmp_path):
    # Pins: python/payrisk/v1 is regenerated whenever proto/ changes
    # (scripts/python-stubs.sh).
    pytest.importorskip("grpc_tools", reason="grpcio-tools makes the stubs")
    done = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO / 'proto'}",
         f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
         str(REPO / "proto/payrisk/v1/scoring.proto")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("scoring_pb2.py", "scoring_pb2.pyi", "scoring_pb2_grpc.py"):
        assert filecmp.cmp(tmp_path / "payrisk/v1" / name,
                           REPO / "python/payrisk/v1" / name, shallow=False), name
