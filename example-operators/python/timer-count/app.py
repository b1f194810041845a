"""timer-count: the smallest operator that uses event-time timers; the same operator as
example-operators/rust/timer-count. An event with key k (or none) and event time t is due at
t + 10: the count of (k, due) in host state goes up by one and a timer is registered for k at
due. When the timer fires it emits {"count":n,"due":due} keyed by k at event time due, and
deletes the count. An event whose value contains the text `trap` traps the call after
counting it."""

import cameo

DELAY_MS = 10
_I64_MAX = 2**63 - 1


def count_key(key, due):
    """The state key of the count of events of `key` due at `due`."""
    name = str(due).encode()
    return name if key is None else name + b"/" + bytes(key)


class TimerCount(cameo.Operator):
    def process(self, event, out):
        due = min(event.event_time + DELAY_MS, _I64_MAX)
        name = count_key(event.key, due)
        cameo.state_put_u64(name, cameo.state_get_u64(name) + 1)
        cameo.register_timer(event.key, due)
        if b"trap" in bytes(event.value):
            # After the write and the timer, which the host must discard. Not a cameo error:
            # an uncaught exception traps the call.
            raise RuntimeError("the event asked for a trap")

    def on_timer(self, key, time, out):
        name = count_key(key, time)
        count = cameo.state_get_u64(name)
        cameo.state_delete(name)
        out.emit(cameo.event(f'{{"count":{count},"due":{time}}}', key=key, event_time=time))


Handler = cameo.export(TimerCount)
