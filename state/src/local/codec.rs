//! The on-disk encodings of the local store: journal frames, segment snapshots and the head
//! record. Each carries a SHA-256 that is checked on every read, so damage is found, never read
//! as older or empty state.
//!
//! - A **frame** is one committed batch: `u32 length (LE) | payload (JSON) | chain digest (32
//!   bytes)`, where the chain digest is `SHA-256(previous digest || payload)`. A frame thus
//!   vouches for every commit before it.
//! - A **snapshot** file is `JSON line \n SHA-256 hex of that line \n`.
//! - The **head** file holds two slots of [`HEAD_SLOT`] bytes, written alternately (generation
//!   modulo 2), each `JSON \n SHA-256 hex \n` padded with spaces; the valid slot with the higher
//!   generation wins, so a torn slot write leaves the other one.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{Snapshot, Write};

/// A chain digest.
pub(super) type Digest = [u8; 32];

/// Bytes per head slot.
pub(super) const HEAD_SLOT: usize = 512;

/// One committed batch, as a frame's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Frame {
    pub generation: u64,
    /// The stack's serial after this batch.
    pub serial: u64,
    /// Unix seconds.
    pub time: u64,
    /// The lock id of the run that wrote it (empty without a lock), and its operation: a run's
    /// last frame is a restore point.
    #[serde(default)]
    pub lock: String,
    #[serde(default)]
    pub operation: String,
    pub writes: Vec<Write>,
}

/// A segment's base: the whole state at `generation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SnapshotFile {
    pub generation: u64,
    /// The chain digest at `generation` (hex).
    pub digest: String,
    pub time: u64,
    /// Why it was written: `compaction`, `import`, `restore of generation N`, `migration`, `new`.
    pub reason: String,
    pub snapshot: Snapshot,
}

/// The head record: where the stack's history must have reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Head {
    pub lineage: String,
    pub generation: u64,
    pub serial: u64,
    /// The chain digest at `generation` (hex).
    pub digest: String,
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The chain digest after `payload`.
pub(super) fn chain(previous: &Digest, payload: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(payload);
    h.finalize().into()
}

/// The digest a new stack's history starts from.
pub(super) fn genesis(lineage: &str) -> Digest {
    chain(&[0; 32], format!("strake-state genesis {lineage}").as_bytes())
}

/// Encodes a frame whose chain continues from `previous`; returns the bytes and the new digest.
pub(super) fn encode_frame(frame: &Frame, previous: &Digest) -> Result<(Vec<u8>, Digest), String> {
    let payload = serde_json::to_vec(frame).map_err(|e| format!("cannot encode a journal frame: {e}"))?;
    let len = u32::try_from(payload.len()).map_err(|_| "a batch of over 4 GiB cannot be recorded".to_string())?;
    let digest = chain(previous, &payload);
    let mut bytes = Vec::with_capacity(payload.len() + 36);
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&payload);
    bytes.extend_from_slice(&digest);
    Ok((bytes, digest))
}

/// How reading the next frame went.
pub(super) enum NextFrame {
    Frame {
        frame: Frame,
        digest: Digest,
        len: usize,
    },
    /// The journal ends cleanly here.
    End,
    /// The bytes here are not a frame that continues the chain (torn, or damaged).
    Bad(String),
}

/// Decodes the frame at the start of `bytes`, which must continue the chain from `previous`.
pub(super) fn decode_frame(bytes: &[u8], previous: &Digest) -> NextFrame {
    if bytes.is_empty() {
        return NextFrame::End;
    }
    let Some(len) = bytes.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
        return NextFrame::Bad(format!("{} stray bytes at the end", bytes.len()));
    };
    let Some(payload) = bytes.get(4..4 + len) else {
        return NextFrame::Bad(format!("a frame of {len} bytes is cut short ({} bytes left)", bytes.len() - 4));
    };
    let Some(stored) = bytes.get(4 + len..4 + len + 32) else {
        return NextFrame::Bad("a frame's checksum is cut short".into());
    };
    let digest = chain(previous, payload);
    if digest[..] != stored[..] {
        return NextFrame::Bad("a frame's checksum does not match its contents".into());
    }
    match serde_json::from_slice::<Frame>(payload) {
        Ok(frame) => NextFrame::Frame { frame, digest, len: 4 + len + 32 },
        Err(e) => NextFrame::Bad(format!("a frame with a valid checksum does not decode ({e}); it was written by another Strake version")),
    }
}

/// `JSON \n sha256-hex \n`.
pub(super) fn seal<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    seal_to(value, Vec::new()).map_err(|e| format!("cannot encode: {e}"))
}

/// [`seal`], written to `out` as it is encoded: a snapshot of a large stack is never held
/// whole in memory (it would be the largest thing an apply holds, when it compacts at the end).
pub(super) fn seal_to<T: Serialize, W: std::io::Write>(value: &T, out: W) -> std::io::Result<W> {
    let mut hashing = Hashing { out, hash: Sha256::new() };
    serde_json::to_writer(&mut hashing, value)?;
    let Hashing { mut out, hash } = hashing;
    out.write_all(b"\n")?;
    out.write_all(hex(&hash.finalize()).as_bytes())?;
    out.write_all(b"\n")?;
    Ok(out)
}

/// A writer that hashes what it passes on.
struct Hashing<W> {
    out: W,
    hash: Sha256,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The value of a sealed record, if its checksum holds.
pub(super) fn unseal<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let Some(split) = text.iter().rposition(|&b| b == b'\n') else {
        return Err("it has no checksum line".into());
    };
    let (body, sum) = (&text[..split], &text[split + 1..]);
    if hex(&Sha256::digest(body)).as_bytes() != sum {
        return Err("its checksum does not match its contents".into());
    }
    serde_json::from_slice(body).map_err(|e| format!("it does not decode ({e})"))
}

/// A head slot: the sealed record padded to [`HEAD_SLOT`] bytes.
pub(super) fn encode_head(head: &Head) -> Result<Vec<u8>, String> {
    let mut bytes = seal(head)?;
    if bytes.len() > HEAD_SLOT {
        return Err("the head record is too long".into());
    }
    bytes.resize(HEAD_SLOT, b' ');
    Ok(bytes)
}

/// The newest valid head of the two slots in `bytes`; `Err` says why none is.
pub(super) fn decode_head(bytes: &[u8]) -> Result<Head, String> {
    let slots = bytes.chunks(HEAD_SLOT).take(2).map(|slot| {
        let end = slot.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        unseal::<Head>(&slot[..end])
    });
    let mut best: Option<Head> = None;
    let mut problems = Vec::new();
    for slot in slots {
        match slot {
            Ok(h) if best.as_ref().is_none_or(|b| h.generation > b.generation) => best = Some(h),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    best.ok_or_else(|| if problems.is_empty() { "it is empty".into() } else { problems.join("; ") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(generation: u64) -> Frame {
        Frame { generation, serial: generation, time: 0, lock: String::new(), operation: "apply".into(), writes: Vec::new() }
    }

    #[test]
    fn frames_chain_and_detect_damage() {
        let start = genesis("l");
        let (one, d1) = encode_frame(&frame(1), &start).unwrap();
        let (two, d2) = encode_frame(&frame(2), &d1).unwrap();
        let mut journal = [one.clone(), two.clone()].concat();
        let NextFrame::Frame { len, digest, .. } = decode_frame(&journal, &start) else { panic!("frame 1") };
        assert_eq!((len, digest), (one.len(), d1));
        assert!(matches!(decode_frame(&journal[len..], &d1), NextFrame::Frame { digest, .. } if digest == d2));
        assert!(matches!(decode_frame(&journal[len + two.len()..], &d2), NextFrame::End));
        // The second frame does not continue another chain.
        assert!(matches!(decode_frame(&journal[len..], &start), NextFrame::Bad(_)));
        // A flipped byte, a cut.
        journal[6] ^= 1;
        assert!(matches!(decode_frame(&journal, &start), NextFrame::Bad(_)));
        assert!(matches!(decode_frame(&two[..two.len() - 1], &d1), NextFrame::Bad(_)));
    }

    #[test]
    fn sealed_records_refuse_damage() {
        let head = Head { lineage: "l".into(), generation: 7, serial: 3, digest: "ab".into() };
        let mut bytes = seal(&head).unwrap();
        assert_eq!(unseal::<Head>(&bytes).unwrap(), head);
        bytes[3] ^= 1;
        assert!(unseal::<Head>(&bytes).is_err());
    }

    #[test]
    fn the_newest_valid_head_slot_wins() {
        let h = |generation| Head { lineage: "l".into(), generation, serial: 1, digest: "ab".into() };
        let file = [encode_head(&h(4)).unwrap(), encode_head(&h(5)).unwrap()].concat();
        assert_eq!(decode_head(&file).unwrap().generation, 5);
        let mut torn = file.clone();
        torn[HEAD_SLOT + 10] ^= 1;
        assert_eq!(decode_head(&torn).unwrap().generation, 4);
        assert!(decode_head(&[]).is_err());
    }
}
