//! Converting state written by an earlier version of the operator: the [`UpgradeState`]
//! trait and the glue behind [`export_upgradable!`](crate::export_upgradable).

use crate::Result;
use crate::bindings::upgrader_world::exports::cameo::operator0_2_0::upgrader;
use crate::export::{Adapter, with_instance};
use crate::operator::Operator;

/// An operator whose keyed state changed shape since an earlier version: it converts each
/// entry the earlier version wrote. Export it with
/// [`export_upgradable!`](crate::export_upgradable), which makes the component export
/// `cameo:operator/upgrader@0.2.0` besides `handler`.
///
/// When the host switches a running operator to this version, it calls
/// [`UpgradeState::upgrade_state`] once per key of the instance's state, after `init` and
/// before any input: the conversion is eager, and all of it is applied together. The keys
/// come in batches (the macro also exports `cameo:operator/packed-upgrader@0.2.0`, which
/// converts many entries per call with this same method).
///
/// ```
/// use cameo_sdk::{Config, Event, Operator, Output, Result, UpgradeState};
///
/// /// Keeps counts as decimal text; version 1 kept them as 8 bytes little-endian.
/// struct Counts;
///
/// impl Operator for Counts {
///     fn init(_config: &Config) -> Result<Self> {
///         Ok(Counts)
///     }
///
///     fn process(&mut self, _event: Event, _out: &mut Output) -> Result<()> {
///         Ok(())
///     }
/// }
///
/// impl UpgradeState for Counts {
///     fn upgrade_state(&mut self, _from: &str, _key: &[u8], value: Vec<u8>) -> Result<Option<Vec<u8>>> {
///         let bytes: [u8; 8] = value.as_slice().try_into().map_err(|_| {
///             cameo_sdk::Error::failed("not an 8-byte count")
///         })?;
///         Ok(Some(u64::from_le_bytes(bytes).to_string().into_bytes()))
///     }
/// }
///
/// cameo_sdk::export_upgradable!(Counts);
/// ```
pub trait UpgradeState: Operator {
    /// The value to keep under `key`, written by module version `from_version` (as the host
    /// names it, e.g. `counts@1`) as `value`; `None` removes the key. An error keeps the
    /// value as it was.
    fn upgrade_state(
        &mut self,
        from_version: &str,
        key: &[u8],
        value: Vec<u8>,
    ) -> Result<Option<Vec<u8>>>;
}

impl<T: UpgradeState> upgrader::Guest for Adapter<T> {
    fn upgrade_state(
        from_version: String,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<Option<Vec<u8>>> {
        with_instance(|instance: &mut T| instance.upgrade_state(&from_version, &key, value))
    }
}

/// Exports a type implementing [`Operator`] and [`UpgradeState`] as the component's
/// `handler`, `upgrader` and `packed-upgrader` (the last two of the contract's version 0.2.0).
///
/// Use it once per operator crate, at module level, instead of
/// [`export_operator!`](crate::export_operator).
#[macro_export]
macro_rules! export_upgradable {
    ($operator:ty) => {
        const _: () = {
            type __CameoUpgradableOperator = $crate::__private::Adapter<$operator>;
            $crate::bindings::__export_operator_raw!(
                __CameoUpgradableOperator with_types_in $crate::bindings
            );
            $crate::bindings::upgrader_world::__export_upgrader_raw!(
                __CameoUpgradableOperator with_types_in $crate::bindings::upgrader_world
            );
            $crate::bindings::packed_upgrader_world::__export_packed_upgrader_raw!(
                __CameoUpgradableOperator with_types_in $crate::bindings::packed_upgrader_world
            );
        };
    };
}
