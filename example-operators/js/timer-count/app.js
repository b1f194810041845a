// timer-count: the smallest operator that uses event-time timers; the same operator as
// example-operators/rust/timer-count. An event with key k (or none) and event time t is due at
// t + 10: the count of (k, due) in host state goes up by one and a timer is registered for k
// at due. When the timer fires it emits {"count":n,"due":due} keyed by k at event time due,
// and deletes the count. An event whose value contains the text `trap` traps the call after
// counting it.
import * as cameo from "./cameo.js";

/** The state key of the count of events of `key` due at `due`. */
function countKey(key, due) {
    const name = cameo.utf8Encode(String(due));
    if (key === undefined || key === null) return name;
    const joined = new Uint8Array(name.length + 1 + key.length);
    joined.set(name);
    joined[name.length] = 0x2f; // "/"
    joined.set(key, name.length + 1);
    return joined;
}

/** Whether `value` (bytes) contains the text `trap`. */
function isTrap(value) {
    for (let k = 0; k + 4 <= value.length; k++) {
        if (value[k] === 0x74 && value[k + 1] === 0x72 && value[k + 2] === 0x61 && value[k + 3] === 0x70) return true;
    }
    return false;
}

class TimerCount extends cameo.Operator {
    process(event, out) {
        const t = event.eventTime;
        const due = typeof t === "bigint" ? t + 10n : t + 10;
        const name = countKey(event.key, due);
        cameo.statePutU64(name, cameo.stateGetU64(name) + 1);
        cameo.registerTimer(event.key ?? undefined, due);
        // After the write and the timer, which the host must discard. Not a cameo error: an
        // uncaught exception traps the call.
        if (isTrap(event.value)) throw new Error("the event asked for a trap");
    }

    onTimer(key, time, out) {
        const name = countKey(key, time);
        const count = cameo.stateGetU64(name);
        cameo.stateDelete(name);
        out.emit(cameo.event(`{"count":${count},"due":${time}}`, key ?? undefined, time));
    }
}

export const handler = cameo.exportOperator(TimerCount);
