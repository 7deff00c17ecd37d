"""A listening TCP socket that uvicorn serves on, with Nagle's algorithm off."""

from __future__ import annotations

import socket

BACKLOG = 512


def tcp_listener(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` (IPv4 or IPv6; port 0 picks a free one) and listen.

    The protocol is given explicitly: asyncio disables Nagle on accepted connections only
    when ``sock.proto == IPPROTO_TCP``, and accepted sockets inherit the listener's proto
    (0 by default). With Nagle on, a response written in pieces on a kept-alive connection
    stalls for the client's delayed ACK, about 40 ms on Linux.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock
