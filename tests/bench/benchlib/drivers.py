"""The server-driver boundary: what the runner needs from a server under test.

A driver starts and stops its server (whose PID the runner measures) and does the signaling
for participants; the load generator does all media. Methods take and return SDP text:

    start() / stop()                      pid (int) while started
    join(name, publisher) -> participant  (opaque object)
    publish(part, offer_sdp) -> answer_sdp
    wait_publishing(part, timeout)        until the server receives media from it
    subscribe(part, feeds) -> offer_sdp   feeds: publishing participants to receive
    subscribe_answer(part, answer_sdp, reanswer)
                                          reanswer(offer_sdp) -> answer_sdp for a server's
                                          later re-offer on the same connection
    service()                             called often: read what the server sent

Drivers raise ServerUnavailable when the server cannot run this benchmark at all (the message
is shown to the user and the server is skipped) and DriverError for a failed run."""


class DriverError(Exception):
    pass


class ServerUnavailable(Exception):
    pass
