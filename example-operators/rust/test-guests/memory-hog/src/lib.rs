//! Test guest `memory-hog`: passes events through unchanged, except that an event whose value
//! is exactly `grow` makes it allocate 1 MiB blocks and write into every page of each, without
//! bound, until the memory cap stops it.
//!
//! The blocks are reserved, not filled: filling them would cost fuel for every byte (bulk
//! memory operations are metered per byte), so the call would run out of fuel long before it
//! reached the memory cap. Writing one byte per 4 KiB page still touches all the memory.
//!
//! Config: none.

use cameo_sdk::{Config, Event, Result};

const BLOCK: usize = 1 << 20;
const PAGE: usize = 4096;

fn memory_hog(event: Event, _config: &Config) -> Result<Option<Event>> {
    if event.value == b"grow" {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        let mut round: u8 = 0;
        loop {
            round = round.wrapping_add(1);
            let mut block: Vec<u8> = Vec::with_capacity(BLOCK);
            for page in block.spare_capacity_mut().iter_mut().step_by(PAGE) {
                page.write(round);
            }
            hoard.push(core::hint::black_box(block));
        }
    }
    Ok(Some(event))
}

cameo_sdk::export_map!(memory_hog);
