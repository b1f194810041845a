// cameo_events.js: events, the output of a call and the operator's config (part of the cameo
// JavaScript SDK; import it through cameo.js).

import { InvalidInput } from "./cameo_errors.js";
import { utf8Decode, utf8Encode } from "./cameo_utf8.js";
import { DOUBTFUL, parseJson, parsePlain, parseStrict } from "./cameo_json.js";
import { JsonNumber, isNumber, kind } from "./cameo_json_value.js";

// --- events -----------------------------------------------------------------------------------

/** A new event; string values and keys are encoded as UTF-8. */
export function event(value, key = undefined, eventTime = 0, headers = []) {
    return {
        key: typeof key === "string" ? utf8Encode(key) : key,
        value: typeof value === "string" ? utf8Encode(value) : value,
        eventTime,
        headers,
    };
}

/** The event's value as text; `InvalidInput` if it is not UTF-8. */
export function valueStr(event) {
    const text = utf8Decode(event.value);
    if (text === null) throw new InvalidInput("event value is not UTF-8");
    return text;
}

/** The event's value parsed as JSON (see `parseJson`). */
export function valueJson(event, options = {}) {
    const text = utf8Decode(event.value);
    if (text === null) throw new InvalidInput("event value is not valid JSON: invalid unicode code point");
    const exact = options.exact === true;
    const value = parsePlain(text, exact);
    return value !== DOUBTFUL ? value : parseStrict(text, "event value", exact, false);
}

/** The events a call sends downstream, in the order they are emitted. */
export class Output {
    constructor() {
        this.events = [];
        // The list's own push: no JavaScript frame per emitted event.
        this.emit = this.events.push.bind(this.events);
    }
}

/** The operator's `config` table from the job spec, with typed getters whose errors name the
 * field (the same messages as the Rust SDK). Values are parsed with `{ exact: true }`. */
export class Config {
    constructor(fields) { this.fields = fields; }

    static fromJson(text) {
        const value = parseJson(text, { what: "config", exact: true });
        if (value === null) return new Config({});
        if (typeof value !== "object" || Array.isArray(value) || value instanceof JsonNumber) {
            throw new InvalidInput(`config must be a JSON object, got ${kind(value)}`);
        }
        return new Config(value);
    }

    /** The field, undefined when missing or null. */
    value(name) {
        const v = Object.prototype.hasOwnProperty.call(this.fields, name) ? this.fields[name] : undefined;
        return v === null ? undefined : v;
    }

    typed(name, expected, accepts) {
        const v = this.value(name);
        if (v === undefined) return undefined;
        if (!accepts(v)) throw new InvalidInput(`config field \`${name}\` must be ${expected}, got ${kind(v)}`);
        return v;
    }

    getStr(name) { return this.typed(name, "a string", (v) => typeof v === "string"); }

    getF64(name) {
        const v = this.typed(name, "a number", isNumber);
        return v === undefined ? undefined : v instanceof JsonNumber ? v.toNumber() : Number(v);
    }

    getBool(name) { return this.typed(name, "a boolean", (v) => typeof v === "boolean"); }

    requireStr(name) {
        const v = this.getStr(name);
        if (v === undefined) throw new InvalidInput(`config field \`${name}\` is required but missing`);
        return v;
    }
}
