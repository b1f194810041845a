use crate::Error;

impl Error {
    /// An [`Error::InvalidInput`]: the input cannot be understood and retrying will not help.
    ///
    /// ```
    /// let err = cameo_sdk::Error::invalid_input("field `price` is not a number");
    /// assert_eq!(err.message(), "field `price` is not a number");
    /// ```
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// An [`Error::Failed`]: the operator failed for another reason.
    ///
    /// ```
    /// let err = cameo_sdk::Error::failed("lookup table is empty");
    /// assert!(!err.is_invalid_input());
    /// ```
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// The message carried by either variant.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidInput(message) | Error::Failed(message) => message,
        }
    }

    /// Whether this is an [`Error::InvalidInput`].
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput(_))
    }

    /// The same error with `context: ` put in front of its message.
    ///
    /// ```
    /// let err = cameo_sdk::Error::invalid_input("expected a number").context("field `price`");
    /// assert_eq!(err.message(), "field `price`: expected a number");
    /// ```
    pub fn context(self, context: impl core::fmt::Display) -> Self {
        match self {
            Error::InvalidInput(message) => Error::InvalidInput(format!("{context}: {message}")),
            Error::Failed(message) => Error::Failed(format!("{context}: {message}")),
        }
    }
}

/// JSON syntax and data errors mean the input is invalid; I/O errors mean a failure.
impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        match err.classify() {
            serde_json::error::Category::Io => Error::failed(format!("JSON I/O error: {err}")),
            _ => Error::invalid_input(format!("invalid JSON: {err}")),
        }
    }
}

impl From<core::str::Utf8Error> for Error {
    fn from(err: core::str::Utf8Error) -> Self {
        Error::invalid_input(format!("invalid UTF-8: {err}"))
    }
}

impl From<std::string::FromUtf8Error> for Error {
    fn from(err: std::string::FromUtf8Error) -> Self {
        Error::invalid_input(format!("invalid UTF-8: {err}"))
    }
}

impl From<core::num::ParseIntError> for Error {
    fn from(err: core::num::ParseIntError) -> Self {
        Error::invalid_input(format!("invalid integer: {err}"))
    }
}

impl From<core::num::ParseFloatError> for Error {
    fn from(err: core::num::ParseFloatError) -> Self {
        Error::invalid_input(format!("invalid number: {err}"))
    }
}

impl From<core::num::TryFromIntError> for Error {
    fn from(err: core::num::TryFromIntError) -> Self {
        Error::invalid_input(format!("integer out of range: {err}"))
    }
}

impl From<core::array::TryFromSliceError> for Error {
    fn from(err: core::array::TryFromSliceError) -> Self {
        Error::invalid_input(format!("wrong byte length: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_are_invalid_input() {
        let err: Error = serde_json::from_str::<serde_json::Value>("{")
            .map_err(Error::from)
            .unwrap_err();
        assert!(err.is_invalid_input());
        assert!(err.message().starts_with("invalid JSON"));
    }
}
