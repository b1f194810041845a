//! The contract's 0.2.0 `packed-upgrader` export (`wit/0.2.0/upgrader.wit`): `upgrade-state`
//! for a batch of entries in one buffer, exported by
//! [`export_upgradable!`](crate::export_upgradable) beside `upgrader` and converting each
//! entry exactly as [`UpgradeState::upgrade_state`] does.

use crate::bindings::packed_upgrader_world::exports::cameo::operator0_2_0::packed_upgrader;
use crate::export::{Adapter, with_instance};
use crate::packed_codec::Reader;
use crate::upgrade::UpgradeState;
use crate::{Error, Result};

/// The tag of an entry the conversion removes.
const REMOVE: u8 = 0;
/// The tag of an entry whose converted value follows.
const KEEP: u8 = 1;
/// The tag of an entry whose conversion failed; the reason follows.
const FAILED: u8 = 2;

impl<T: UpgradeState> packed_upgrader::Guest for Adapter<T> {
    fn upgrade_states(from_version: String, entries: Vec<u8>) -> Result<Vec<u8>> {
        with_instance(|instance: &mut T| convert_all(instance, &from_version, &entries))
    }
}

/// Converts every entry of `entries` (the layout of `packed-upgrader`) with `instance`, and
/// writes the results in the same layout.
fn convert_all<T: UpgradeState>(instance: &mut T, from: &str, entries: &[u8]) -> Result<Vec<u8>> {
    let mut reader = Reader::new(entries);
    let count = reader.u32("the entry count")?;
    // A converted value is usually about as long as the one it replaces.
    let mut out = Vec::with_capacity(entries.len());
    out.extend_from_slice(&count.to_le_bytes());
    for _ in 0..count {
        let key = reader.bytes("an entry's key")?;
        let value = reader.bytes("an entry's value")?;
        match instance.upgrade_state(from, key, value.to_vec()) {
            Ok(None) => out.push(REMOVE),
            Ok(Some(converted)) => {
                out.push(KEEP);
                put_bytes(&mut out, &converted)?;
            }
            Err(err) => {
                out.push(FAILED);
                put_bytes(&mut out, reason(&err).as_bytes())?;
            }
        }
    }
    reader.finish()?;
    Ok(out)
}

/// The text of an error, as the host logs it.
fn reason(err: &Error) -> String {
    match err {
        Error::InvalidInput(message) => format!("invalid input: {message}"),
        Error::Failed(message) => message.clone(),
    }
}

/// Appends `bytes` with its `u32` length.
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| {
        Error::failed(format!(
            "a converted value of {} bytes is over the 4 GiB a packed entry can hold",
            bytes.len()
        ))
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Event, Operator, Output};

    /// Doubles a one-byte value, removes `gone`, and fails on an empty value.
    struct Doubler;

    impl Operator for Doubler {
        fn init(_: &Config) -> Result<Self> {
            Ok(Doubler)
        }

        fn process(&mut self, _: Event, _: &mut Output) -> Result<()> {
            Ok(())
        }
    }

    impl UpgradeState for Doubler {
        fn upgrade_state(
            &mut self,
            from: &str,
            key: &[u8],
            value: Vec<u8>,
        ) -> Result<Option<Vec<u8>>> {
            if key == b"gone" {
                return Ok(None);
            }
            match value.as_slice() {
                [] => Err(Error::failed(format!("{from}: empty value"))),
                [byte] => Ok(Some(vec![byte.wrapping_mul(2)])),
                _ => Err(Error::invalid_input("more than one byte")),
            }
        }
    }

    fn packed(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (entries.len() as u32).to_le_bytes().to_vec();
        for (key, value) in entries {
            put_bytes(&mut out, key).unwrap();
            put_bytes(&mut out, value).unwrap();
        }
        out
    }

    /// Reads a result buffer back as one `Result<Option<value>, reason>` per entry.
    fn unpacked(bytes: &[u8]) -> Vec<std::result::Result<Option<Vec<u8>>, String>> {
        let mut reader = Reader::new(bytes);
        let count = reader.u32("count").unwrap();
        let mut tag = [0u8; 1];
        (0..count)
            .map(|_| {
                let at = reader.at;
                tag.copy_from_slice(&bytes[at..at + 1]);
                reader.at += 1;
                match tag[0] {
                    REMOVE => Ok(None),
                    KEEP => Ok(Some(reader.bytes("value").unwrap().to_vec())),
                    _ => Err(String::from_utf8(reader.bytes("reason").unwrap().to_vec()).unwrap()),
                }
            })
            .collect()
    }

    #[test]
    fn a_packed_batch_converts_each_entry_as_upgrade_state_does() {
        let entries: [(&[u8], &[u8]); 4] =
            [(b"a", &[3]), (b"gone", &[1]), (b"e", &[]), (b"l", &[1, 2])];
        let got = unpacked(&convert_all(&mut Doubler, "d@1", &packed(&entries)).unwrap());
        let want: Vec<_> = entries
            .iter()
            .map(|(key, value)| {
                Doubler
                    .upgrade_state("d@1", key, value.to_vec())
                    .map_err(|err| reason(&err))
            })
            .collect();
        assert_eq!(got, want);
        assert_eq!(got[0], Ok(Some(vec![6])));
        assert_eq!(got[2], Err("d@1: empty value".to_string()));
        assert_eq!(got[3], Err("invalid input: more than one byte".to_string()));
    }

    #[test]
    fn a_batch_cut_short_is_an_error_saying_where() {
        let mut bytes = packed(&[(b"a", &[3])]);
        bytes.truncate(bytes.len() - 1);
        let err = convert_all(&mut Doubler, "d@1", &bytes).unwrap_err();
        assert!(
            format!("{err:?}").contains("inside an entry's value"),
            "{err:?}"
        );
    }
}
