//! A line diff for golden files: which expected lines are missing and which lines were not
//! expected, in order, from a longest common subsequence.

/// Lines compared in full at most per side; beyond that, the remainders are compared line by
/// line (a golden file of a test run is small).
const MAX_LINES: usize = 4096;

/// The difference between `expected` and `got` (`- ` lines missing, `+ ` lines not expected,
/// each with its line number), or `None` when they are equal.
pub fn diff(expected: &[&str], got: &[&str]) -> Option<String> {
    if expected == got {
        return None;
    }
    let mut text = String::new();
    let (e, g) = (expected.len().min(MAX_LINES), got.len().min(MAX_LINES));
    // lcs[i][j]: the longest common subsequence of expected[i..e] and got[j..g].
    let mut lcs = vec![vec![0u32; g + 1]; e + 1];
    for i in (0..e).rev() {
        for j in (0..g).rev() {
            lcs[i][j] = if expected[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < e || j < g {
        if i < e && j < g && expected[i] == got[j] {
            i += 1;
            j += 1;
        } else if i < e && (j == g || lcs[i + 1][j] >= lcs[i][j + 1]) {
            text.push_str(&format!("- {:>4}: {}\n", i + 1, expected[i]));
            i += 1;
        } else {
            text.push_str(&format!("+ {:>4}: {}\n", j + 1, got[j]));
            j += 1;
        }
    }
    for (n, line) in expected.iter().enumerate().skip(e) {
        if got.get(n) != Some(line) {
            text.push_str(&format!("- {:>4}: {line}\n", n + 1));
        }
    }
    for (n, line) in got.iter().enumerate().skip(g) {
        if expected.get(n) != Some(line) {
            text.push_str(&format!("+ {:>4}: {line}\n", n + 1));
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lines_have_no_difference() {
        assert_eq!(diff(&["a", "b"], &["a", "b"]), None);
    }

    #[test]
    fn missing_and_unexpected_lines_are_shown_with_their_numbers() {
        assert_eq!(
            diff(&["a", "b", "c"], &["a", "x", "c", "d"]).as_deref(),
            Some("-    2: b\n+    2: x\n+    4: d\n")
        );
        assert_eq!(diff(&["a"], &[]).as_deref(), Some("-    1: a\n"));
    }
}
