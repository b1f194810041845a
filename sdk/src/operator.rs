use crate::{Config, Event, Result};

/// A stream operator: what one component instance does with the events the host gives it.
///
/// Export the implementing type with [`export_operator!`](crate::export_operator). The host
/// creates an instance with [`init`](Operator::init), then calls
/// [`process_batch`](Operator::process_batch) for every batch and
/// [`on_timer`](Operator::on_timer) for every timer that comes due. Returning an error fails
/// only that call: the host sends its input to the dead-letter output, discards the state
/// writes it made and keeps using the instance. Fields of `self` are not rolled back, so keep
/// anything that must be exact in [`state`](crate::state). A trap (a panic, running out of
/// fuel or memory) also fails the call, and the host then creates a new instance, calling
/// `init` again; host-held state survives.
///
/// ```
/// use cameo_sdk::{Config, Event, Operator, Output, Result};
///
/// /// Tags every event with a header taken from the configuration.
/// struct Tagger {
///     tag: String,
/// }
///
/// impl Operator for Tagger {
///     fn init(config: &Config) -> Result<Self> {
///         Ok(Tagger { tag: config.require_str("tag")?.to_string() })
///     }
///
///     fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
///         out.emit(event.with_header("tag", self.tag.as_str()));
///         Ok(())
///     }
/// }
///
/// cameo_sdk::export_operator!(Tagger);
/// ```
pub trait Operator: Sized + 'static {
    /// Creates the instance from the job's configuration. Called once per instance, before any
    /// other call; an error here fails the instance's start.
    fn init(config: &Config) -> Result<Self>;

    /// Processes one event, emitting any number of events into `out`.
    fn process(&mut self, event: Event, out: &mut Output) -> Result<()>;

    /// Processes one batch, in arrival order. The default calls [`process`](Operator::process)
    /// for each event and stops at the first error; override it to work on the whole batch at
    /// once (for example to read and write state once per batch rather than once per event).
    fn process_batch(&mut self, batch: Vec<Event>, out: &mut Output) -> Result<()> {
        for event in batch {
            self.process(event, out)?;
        }
        Ok(())
    }

    /// Called once the event-time watermark reaches a timer registered with
    /// [`timers::register`](crate::timers::register), with the key and time it was registered
    /// with. The default does nothing.
    fn on_timer(&mut self, key: Option<Vec<u8>>, time: i64, out: &mut Output) -> Result<()> {
        let _ = (key, time, out);
        Ok(())
    }
}

/// The events an operator call sends downstream, in the order they are emitted.
///
/// ```
/// use cameo_sdk::{Event, Output};
///
/// let mut out = Output::new();
/// out.emit(Event::new("a"));
/// out.emit_all([Event::new("b"), Event::new("c")]);
/// assert_eq!(out.len(), 3);
/// assert_eq!(out.events()[2].value, b"c");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    events: Vec<Event>,
}

impl Output {
    /// An empty output.
    pub fn new() -> Self {
        Output::default()
    }

    /// Sends `event` downstream.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Sends every event of `events` downstream, in order.
    pub fn emit_all(&mut self, events: impl IntoIterator<Item = Event>) {
        self.events.extend(events);
    }

    /// The events emitted so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// How many events were emitted so far.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event was emitted so far.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The emitted events, consuming the output.
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

impl Extend<Event> for Output {
    fn extend<I: IntoIterator<Item = Event>>(&mut self, events: I) {
        self.events.extend(events);
    }
}
