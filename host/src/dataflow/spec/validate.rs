//! Validation of a parsed job spec: names, inputs, cycles, windows, joins and source fields,
//! each error naming the field and its line.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;

use super::*;
use crate::limits::MAX_OPERATORS;

/// Characters names may not contain: instance labels and late outputs are made with them.
const RESERVED: &[char] = &['/', '#', ':'];

/// [`RESERVED`], as error messages list it.
const RESERVED_LIST: &str = "`/`, `#` or `:`";

/// A field name and where it was given, if it was.
type FieldSpan<'a> = (&'a str, Option<Range<usize>>);

/// 1-based line number of byte `offset` in `source`.
fn line_of(source: &str, offset: usize) -> usize {
    source
        .get(..offset.min(source.len()))
        .map_or(0, |before| before.matches('\n').count() + 1)
}

/// Turns a span of the spec's text into an error that names the file and line.
pub(super) struct Checker<'a> {
    source: &'a str,
    file: &'a str,
}

impl<'a> Checker<'a> {
    /// A checker of `source`, read from `file`.
    pub(super) fn new(source: &'a str, file: &'a str) -> Self {
        Checker { source, file }
    }

    /// An error at `span` (`0..0`: no line) saying `message`.
    pub(super) fn error(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let line = if span == (0..0) {
            0
        } else {
            line_of(self.source, span.start)
        };
        SpecError::Invalid {
            file: self.file.into(),
            line,
            message: message.into(),
        }
    }
}

impl JobSpec {
    /// Checks everything the types alone do not: the first problem found, with its line.
    pub(super) fn validate(&self, checker: &Checker<'_>) -> Result<(), SpecError> {
        if self.name.get_ref().trim().is_empty() {
            return Err(checker.error(self.name.span(), "`name` is empty; give the job a name"));
        }
        let target = *self.latency_target_ms.get_ref();
        if target == 0 || target > MAX_LATENCY_TARGET_MS {
            return Err(checker.error(
                self.latency_target_ms.span(),
                format!(
                    "`latency_target_ms` is {target}; it must be between 1 and \
                     {MAX_LATENCY_TARGET_MS} (one day)"
                ),
            ));
        }
        if self.sources.is_empty() {
            return Err(checker.error(
                0..0,
                "the job has no [[source]]; add one (kind = \"file\", \"stdin\" or \"generator\")",
            ));
        }
        if self.sinks.is_empty() {
            return Err(checker.error(
                0..0,
                "the job has no [[sink]]; add one (kind = \"stdout\", \"file\", \"memory\" or \"discard\")",
            ));
        }
        if let Some(over) = self.operators.get(MAX_OPERATORS) {
            return Err(checker.error(
                over.name.span(),
                format!(
                    "the job has {} operators; a job may have at most {MAX_OPERATORS}",
                    self.operators.len()
                ),
            ));
        }
        for source in &self.sources {
            Self::check_source_fields(checker, source)?;
        }
        for sink in &self.sinks {
            let needs_path = *sink.kind.get_ref() == SinkKind::File;
            match (&sink.path, needs_path) {
                (None, true) => {
                    return Err(checker.error(
                        sink.kind.span(),
                        format!("file sink \"{}\" needs a `path`", sink.name.get_ref()),
                    ));
                }
                (Some(path), false) => {
                    return Err(checker.error(
                        path.span(),
                        format!(
                            "`path` applies only to file sinks, and \"{}\" is not one",
                            sink.name.get_ref()
                        ),
                    ));
                }
                _ => {}
            }
        }
        // Names are unique across sources, operators and sinks.
        let mut seen: HashMap<&str, &'static str> = HashMap::new();
        let names = self
            .sources
            .iter()
            .map(|s| (s.name(), "source"))
            .chain(self.operators.iter().map(|o| (&o.name, "operator")))
            .chain(self.sinks.iter().map(|s| (s.name(), "sink")));
        let article = |what: &str| if what.starts_with('o') { "an" } else { "a" };
        for (name, what) in names {
            if name.get_ref().trim().is_empty() {
                return Err(checker.error(name.span(), format!("a {what} has an empty `name`")));
            }
            if let Some(bad) = name.get_ref().chars().find(|c| RESERVED.contains(c)) {
                return Err(checker.error(
                    name.span(),
                    format!(
                        "{} {what} is named \"{}\", with `{bad}` in it; names may not contain \
                         {RESERVED_LIST} (they label instances as `job/operator#1` and late \
                         outputs as `operator:late`)",
                        article(what),
                        name.get_ref()
                    ),
                ));
            }
            if let Some(other) = seen.insert(name.get_ref(), what) {
                return Err(checker.error(
                    name.span(),
                    format!(
                        "`name` \"{}\" is used twice ({} {other} and {} {what}); names must be unique",
                        name.get_ref(),
                        article(other),
                        article(what)
                    ),
                ));
            }
        }
        let late_outputs: Vec<String> = self
            .operators
            .iter()
            .filter(|o| o.window.is_some())
            .map(|o| format!("{}{LATE_SUFFIX}", o.name.get_ref()))
            .collect();
        let producers: HashSet<&str> = self
            .sources
            .iter()
            .map(|s| s.name().get_ref().as_str())
            .chain(self.operators.iter().map(|o| o.name.get_ref().as_str()))
            .chain(late_outputs.iter().map(String::as_str))
            .collect();
        let known = {
            let mut known: Vec<&str> = producers.iter().copied().collect();
            known.sort_unstable();
            known.join(", ")
        };
        let check_inputs = |owner: &str, inputs: &[Spanned<String>], whole: Range<usize>| {
            if inputs.is_empty() {
                return Err(checker.error(
                    whole,
                    format!(
                        "`inputs` of \"{owner}\" is empty; name at least one source or operator"
                    ),
                ));
            }
            for input in inputs {
                if !producers.contains(input.get_ref().as_str()) {
                    return Err(checker.error(
                        input.span(),
                        format!(
                            "`inputs` of \"{owner}\" names \"{}\", which is no source or operator of this job (known: {known})",
                            input.get_ref()
                        ),
                    ));
                }
                if producer_of(input.get_ref()) == owner {
                    return Err(checker.error(
                        input.span(),
                        format!("\"{owner}\" lists itself in `inputs`"),
                    ));
                }
            }
            Ok(())
        };
        for operator in &self.operators {
            check_inputs(
                operator.name.get_ref(),
                &operator.inputs,
                operator.name.span(),
            )?;
            if let Some(join) = &operator.join {
                let name = operator.name.get_ref();
                if operator.inputs.len() != 2 {
                    return Err(checker.error(
                        join.within_ms.span(),
                        format!("`join` of \"{name}\" needs exactly two `inputs` (left, right); it has {}", operator.inputs.len()),
                    ));
                }
                if operator.window.is_some() {
                    return Err(checker.error(
                        join.within_ms.span(),
                        format!("\"{name}\" declares both a `window` and a `join`; split it into two operators"),
                    ));
                }
                if *operator.parallelism.get_ref() > 1
                    && operator.partition != Partitioning::KeyHash
                {
                    return Err(checker.error(
                        operator.parallelism.span(),
                        format!("\"{name}\" joins with parallelism above 1, so it needs `partition = \"key-hash\"` for both sides of a key to meet"),
                    ));
                }
            }
            if let Some(window) = &operator.window {
                window.to_def().map_err(|(span, message)| {
                    checker.error(
                        span,
                        format!("`window` of \"{}\": {message}", operator.name.get_ref()),
                    )
                })?;
            }
            if let Some(fuel) = &operator.fuel_per_call
                && *fuel.get_ref() == 0
            {
                return Err(checker.error(
                    fuel.span(),
                    format!("`fuel_per_call` of \"{}\" is 0; give the fuel one call may burn, e.g. 5000000000, or leave it out for the host's default", operator.name.get_ref()),
                ));
            }
            let parallelism = *operator.parallelism.get_ref();
            if parallelism == 0 || parallelism > MAX_PARALLELISM {
                return Err(checker.error(
                    operator.parallelism.span(),
                    format!("`parallelism` of \"{}\" is {parallelism}; it must be between 1 and {MAX_PARALLELISM}", operator.name.get_ref()),
                ));
            }
            if operator.module.get_ref().trim().is_empty() {
                return Err(checker.error(operator.module.span(), format!("`module` of \"{}\" is empty; give the path of a .wasm component or an operator crate", operator.name.get_ref())));
            }
        }
        for sink in &self.sinks {
            check_inputs(sink.name().get_ref(), sink.inputs(), sink.name().span())?;
        }
        if let Some(cycle) = self.find_cycle() {
            return Err(checker.error(
                cycle.span(),
                format!("operator \"{}\" feeds back into itself through its `inputs`; a job must be a graph without cycles", cycle.get_ref()),
            ));
        }
        Ok(())
    }

    /// Rejects fields that do not apply to the source's kind, and missing required ones.
    fn check_source_fields(checker: &Checker<'_>, source: &SourceSpec) -> Result<(), SpecError> {
        let name = source.name.get_ref();
        let kind = *source.kind.get_ref();
        let generator_only = [
            ("count", source.count.as_ref().map(Spanned::span)),
            ("keys", source.keys.as_ref().map(Spanned::span)),
            (
                "payload_bytes",
                source.payload_bytes.as_ref().map(Spanned::span),
            ),
            ("seed", source.seed.as_ref().map(Spanned::span)),
            ("mode", source.mode.as_ref().map(Spanned::span)),
            ("event_rate", source.event_rate.as_ref().map(Spanned::span)),
        ];
        let lines_only = [
            ("key_field", source.key_field.as_ref().map(Spanned::span)),
            (
                "event_time_field",
                source.event_time_field.as_ref().map(Spanned::span),
            ),
            (
                "format",
                Some(source.format.span()).filter(|s| *s != (0..0)),
            ),
        ];
        let (wrong, kind_name): (&[FieldSpan<'_>], &str) = match kind {
            SourceKind::Generator => (&lines_only, "generator"),
            SourceKind::File | SourceKind::Stdin => (&generator_only, "file and stdin"),
            SourceKind::Http => (&generator_only, "http"),
        };
        if let Some((field, Some(span))) = wrong.iter().find(|(_, span)| span.is_some()) {
            return Err(checker.error(
                span.clone(),
                format!("`{field}` does not apply to {kind_name} sources like \"{name}\""),
            ));
        }
        match (kind, &source.path) {
            (SourceKind::File, None) => {
                return Err(checker.error(
                    source.kind.span(),
                    format!("file source \"{name}\" needs a `path`"),
                ));
            }
            (SourceKind::Stdin | SourceKind::Generator | SourceKind::Http, Some(path)) => {
                return Err(checker.error(
                    path.span(),
                    format!("`path` applies only to file sources, and \"{name}\" is not one"),
                ));
            }
            _ => {}
        }
        if kind == SourceKind::Generator && source.count.is_none() {
            return Err(checker.error(
                source.kind.span(),
                format!("generator source \"{name}\" needs a `count` of events"),
            ));
        }
        if kind == SourceKind::Generator {
            Self::check_generator_mode(checker, source)?;
        }
        if let Some(bytes) = &source.payload_bytes
            && *bytes.get_ref() > MAX_PAYLOAD_BYTES
        {
            return Err(checker.error(
                bytes.span(),
                format!("`payload_bytes` must be at most {MAX_PAYLOAD_BYTES}"),
            ));
        }
        if let Some(rate) = &source.rate
            && !(rate.get_ref().is_finite() && *rate.get_ref() >= 0.0)
        {
            return Err(checker.error(
                rate.span(),
                "`rate` must be a number of events per second, 0 or more",
            ));
        }
        Ok(())
    }

    /// The fields of a generator's mode: `seed` only for `hashed`, `event_rate` only for
    /// `exact`, where it is required and at least 1.
    fn check_generator_mode(checker: &Checker<'_>, source: &SourceSpec) -> Result<(), SpecError> {
        let name = source.name.get_ref();
        match source.generator_mode() {
            GeneratorMode::Hashed => {
                if let Some(rate) = &source.event_rate {
                    return Err(checker.error(
                        rate.span(),
                        format!(
                            "`event_rate` applies only to exact generators (`mode = \"exact\"`), \
                             and \"{name}\" is not one; its events carry their ingest time"
                        ),
                    ));
                }
            }
            GeneratorMode::Exact => {
                if let Some(seed) = &source.seed {
                    return Err(checker.error(
                        seed.span(),
                        format!(
                            "`seed` does not apply to exact generators like \"{name}\": their \
                             keys are `k{{seq % keys}}`"
                        ),
                    ));
                }
                let mode_span = source
                    .mode
                    .as_ref()
                    .map_or(source.kind.span(), Spanned::span);
                match &source.event_rate {
                    None => {
                        return Err(checker.error(
                            mode_span,
                            format!(
                                "exact generator \"{name}\" needs an `event_rate`: events per \
                                 second of event time"
                            ),
                        ));
                    }
                    Some(rate) if *rate.get_ref() == 0 => {
                        return Err(checker.error(
                            rate.span(),
                            "`event_rate` must be at least 1 event per second of event time",
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// An operator on a cycle, if there is one.
    fn find_cycle(&self) -> Option<&Spanned<String>> {
        let index: HashMap<&str, usize> = self
            .operators
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.get_ref().as_str(), i))
            .collect();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut mark = vec![0u8; self.operators.len()];
        fn visit(
            spec: &JobSpec,
            index: &HashMap<&str, usize>,
            mark: &mut [u8],
            at: usize,
        ) -> Option<usize> {
            mark[at] = 1;
            for input in &spec.operators[at].inputs {
                if let Some(&next) = index.get(producer_of(input.get_ref())) {
                    if mark[next] == 1 {
                        return Some(next);
                    }
                    if mark[next] == 0
                        && let Some(found) = visit(spec, index, mark, next)
                    {
                        return Some(found);
                    }
                }
            }
            mark[at] = 2;
            None
        }
        (0..self.operators.len()).find_map(|start| {
            if mark[start] == 0 {
                visit(self, &index, &mut mark, start).map(|i| &self.operators[i].name)
            } else {
                None
            }
        })
    }
}
