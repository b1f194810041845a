// filter: keeps the events whose JSON value has a field that equals a configured value or
// reaches a configured minimum, and drops the rest; the same operator as
// example-operators/rust/filter (see its docs for the config: `field`, `equals`, `min`).
import * as cameo from "./cameo.js";

const I64_MAX = 9223372036854775807n;

// JSON equality, except that two numbers compare by value (2 equals 2.0). Values are parsed
// with { exact: true }: integers stay exact, as serde_json keeps them.
function jsonEqual(a, b) {
    if (a instanceof cameo.JsonNumber && b instanceof cameo.JsonNumber) {
        const asI64 = (n) => n.kind === "i" || (n.kind === "u" && n.value <= I64_MAX);
        if ((asI64(a) && asI64(b)) || (a.kind === "u" && b.kind === "u")) return a.value === b.value;
        return a.toNumber() === b.toNumber();
    }
    return cameo.jsonSame(a, b);
}

function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof cameo.JsonNumber);
}

class Filter extends cameo.Operator {
    init(config) {
        this.field = config.requireStr("field");
        this.pointer = this.field.startsWith("/");
        this.equals = config.value("equals");
        this.min = config.getF64("min");
        if (this.equals === undefined && this.min === undefined) {
            throw new cameo.InvalidInput("config needs `equals` or `min` (or both) besides `field`");
        }
        // Equality needs numbers exact (2 is not 2.0 in nested values, integers past 2^53);
        // `min` compares as f64, which plain Numbers (and BigInts) give.
        this.read = { exact: this.equals !== undefined };
    }

    processBatch(batch, out) {
        for (const event of batch) if (this.keeps(event)) out.emit(event);
    }

    keeps(event) {
        let found;
        if (this.pointer) {
            const value = cameo.valueJson(event, { exact: true });
            if (!isObject(value)) throw new cameo.InvalidInput("event value is not a JSON object");
            found = cameo.jsonPointer(value, this.field);
        } else {
            // One field read strictly, the rest only scanned, as the Rust filter does.
            try {
                found = cameo.jsonField(event, this.field, this.read);
            } catch (error) {
                if (!(error instanceof cameo.InvalidInput)) throw error;
                let notObject = false;
                try {
                    notObject = !isObject(cameo.valueJson(event));
                } catch (_) {
                    notObject = false;
                }
                if (notObject) throw new cameo.InvalidInput("event value is not a JSON object");
                throw error;
            }
        }
        // A missing field drops the event; so does a null one, which no test can pass.
        if (found === undefined || found === null) return false;
        if (this.equals !== undefined && !jsonEqual(found, this.equals)) return false;
        if (this.min !== undefined) {
            const number = typeof found === "number" ? found : cameo.isNumber(found) ? cameo.toNumber(found) : NaN;
            if (!(number >= this.min)) return false;
        }
        return true;
    }
}

export const handler = cameo.exportOperator(Filter);
