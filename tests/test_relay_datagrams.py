"""Datagrams over a stream (SPEC §9): each one arrives whole and alone, however the stream cuts
the bytes that carry it."""

from __future__ import annotations

from templater.relay.datagrams import MAX_DATAGRAM, DatagramStream, frame


def test_datagrams_keep_their_boundaries_whatever_the_stream_cuts() -> None:
    datagrams = [b"", b"a", b"x" * 1000, bytes(range(256)) * 4, b"z" * MAX_DATAGRAM]
    wire = b"".join(frame(datagram) for datagram in datagrams)
    for piece in (1, 2, 3, 7, 4096, len(wire)):
        received: list[bytes] = []
        stream = DatagramStream(received.append, lambda: None)
        for start in range(0, len(wire), piece):
            stream.data_received(wire[start : start + piece])
        assert received == datagrams


def test_a_datagram_longer_than_udp_allows_is_cut() -> None:
    assert len(frame(b"y" * (MAX_DATAGRAM + 10))) == 2 + MAX_DATAGRAM
