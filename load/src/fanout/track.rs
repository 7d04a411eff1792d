//! A subscriber's record of which messages of one publisher arrived: loss, duplicates and
//! reordering within a window of sequence numbers.

/// How far back (in sequence numbers) a subscriber remembers which messages arrived.
pub(super) const WINDOW: u64 = 256;

/// Per-publisher sequence tracking in one subscriber: one cache line (a subscriber touches one
/// per message, and 5 000 subscribers × 10 publishers of them do not stay in cache). The
/// counters are per subscriber and publisher: 32 bits are plenty.
#[derive(Debug, Default, Clone, Copy)]
#[repr(align(64))]
pub(super) struct Track {
    /// The next sequence number expected (sequences start at 1).
    pub(super) next: u64,
    /// Bit `i` (word `i / 64`, bit `i % 64`): sequence `next - 1 - i` arrived.
    pub(super) window: [u64; (WINDOW / 64) as usize],
    /// Distinct messages (late ones beyond the window included).
    pub(super) unique: u32,
    /// Messages seen twice (within the window).
    pub(super) duplicates: u32,
    /// Messages that arrived after a later one of the same publisher (within the window).
    pub(super) reordered: u32,
    /// Messages that arrived more than `WINDOW` sequence numbers late: counted as delivered
    /// (they cannot be told from duplicates any more).
    pub(super) late: u32,
}

impl Track {
    pub(super) fn see(&mut self, seq: u64) {
        if self.next == 0 {
            self.next = 1;
        }
        if seq >= self.next {
            self.shift(seq - self.next + 1);
            self.window[0] |= 1;
            self.next = seq + 1;
            self.unique += 1;
            return;
        }
        let back = self.next - 1 - seq;
        if back >= WINDOW {
            self.late += 1;
            self.unique += 1;
            return;
        }
        let (word, bit) = ((back / 64) as usize, back % 64);
        if self.window[word] & (1 << bit) == 0 {
            self.window[word] |= 1 << bit;
            self.unique += 1;
            self.reordered += 1;
        } else {
            self.duplicates += 1;
        }
    }

    /// Shifts the window by `n` positions (towards older).
    pub(super) fn shift(&mut self, n: u64) {
        if n >= WINDOW {
            self.window = [0; (WINDOW / 64) as usize];
            return;
        }
        let (words, bits) = ((n / 64) as usize, n % 64);
        let len = self.window.len();
        for i in (0..len).rev() {
            let src = i.checked_sub(words);
            let hi = src.map_or(0, |s| self.window[s] << bits);
            let lo = match src.and_then(|s| s.checked_sub(1)) {
                Some(s) if bits > 0 => self.window[s] >> (64 - bits),
                _ => 0,
            };
            self.window[i] = hi | lo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_loss_duplicates_and_reordering() {
        let mut t = Track::default();
        for s in [1, 2, 3, 5, 4, 4, 7] {
            t.see(s);
        }
        assert_eq!(t.unique, 6); // 1 2 3 5 4 7
        assert_eq!(t.duplicates, 1); // the second 4
        assert_eq!(t.reordered, 1); // 4 after 5
        assert_eq!(t.next, 8); // 6 missing
        let mut t = Track::default();
        t.see(1);
        t.see(200);
        t.see(1); // 199 back: inside the window, a duplicate
        t.see(100); // missing so far: reordered
        t.see(100);
        assert_eq!((t.unique, t.duplicates, t.reordered), (3, 2, 1));
        t.see(1000);
        t.see(5); // far beyond the window
        assert_eq!((t.unique, t.late), (5, 1));
        // Shifts across words keep the bits.
        let mut t = Track::default();
        for s in 1..=130 {
            t.see(s);
        }
        t.see(140);
        assert_eq!(t.window[0] & 1, 1);
        t.see(135);
        t.see(3); // 137 back: still remembered
        assert_eq!((t.duplicates, t.reordered), (1, 1));
    }
}
