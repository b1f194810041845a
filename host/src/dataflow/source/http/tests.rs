//! Inlet tests: pushing, back-pressure, reopening, segments.

use super::*;

#[test]
fn pushed_lines_are_read_back_and_a_full_inlet_refuses_whole_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.ndjson");
    let inlet = Inlet::open(&path, 10).unwrap();
    assert_eq!(inlet.push(b"aaaa\nbbbb").unwrap(), 2);
    let err = inlet.push(b"c\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the job is behind: 10 bytes of input are waiting and the source holds at most 10; \
         retry after a moment (nothing of this request was taken)"
    );
    let (mut follow, before) = inlet.follow();
    assert_eq!(before, 0);
    let mut buf = [0u8; 64];
    let read = follow.read(&mut buf).unwrap();
    assert_eq!(&buf[..read], b"aaaa\nbbbb\n");
    assert_eq!(inlet.unread(), 0);
    inlet.push(b"c\n").unwrap();
    inlet.close().unwrap();
    let read = follow.read(&mut buf).unwrap();
    assert_eq!(&buf[..read], b"c\n");
    assert_eq!(
        follow.read(&mut buf).unwrap(),
        0,
        "closed and read to its end"
    );
    assert!(matches!(inlet.push(b"d"), Err(InletError::Closed)));
}

#[test]
fn reopening_keeps_whole_lines_and_the_closed_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.ndjson");
    std::fs::write(&path, b"one\ntwo\npart").unwrap();
    let inlet = Inlet::open(&path, 100).unwrap();
    assert_eq!(inlet.lines(), 2);
    assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
    inlet.close().unwrap();
    assert!(Inlet::open(&path, 100).unwrap().is_closed());
}

fn read_all(follow: &mut Follow) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        match follow.read(&mut buf).unwrap() {
            0 => return out,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn segments_are_read_in_order_released_once_read_and_found_again_on_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.ndjson");
    let inlet = Inlet::open_with(&path, 1 << 20, 10).unwrap();
    for i in 0..6 {
        // 6 bytes each: a new segment after every second push.
        inlet.push(format!("line{i}\n").as_bytes()).unwrap();
    }
    let files = |dir: &Path| std::fs::read_dir(dir).unwrap().count();
    assert_eq!(
        files(dir.path()),
        4,
        "three full segments and an empty newest"
    );
    assert_eq!(inlet.kept_bytes(), 36);
    assert_eq!(inlet.release(4), 0, "nothing is read yet");
    let (mut follow, before) = inlet.follow();
    assert_eq!(before, 0);
    let mut buf = [0u8; 20];
    let mut got = Vec::new();
    while got.len() < 24 {
        let n = follow.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"line0\nline1\nline2\nline3\n");
    // Lines 1 to 4 are consumed: the two segments holding only them go.
    assert_eq!(inlet.release(4), 24);
    assert_eq!(inlet.release(4), 0);
    assert_eq!(inlet.kept_bytes(), 12);
    inlet.close().unwrap();
    assert_eq!(read_all(&mut follow), b"line4\nline5\n");

    // Reopened, the inlet starts at its oldest kept segment, numbering after line 4.
    let again = Inlet::open_with(&path, 1 << 20, 10).unwrap();
    assert_eq!(again.lines(), 6);
    let (mut follow, before) = again.follow();
    assert_eq!(before, 4);
    assert_eq!(read_all(&mut follow), b"line4\nline5\n");
    again.push(b"line6\n").unwrap_err();
}
