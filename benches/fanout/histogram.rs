//! A latency histogram with fixed memory: log-linear buckets (64 per power of
//! two, so within 1.6% of the true value), exact count and maximum. Each
//! generator thread keeps one and they are merged at the end; storing every
//! sample would cost gigabytes at millions of deliveries per second.

/// Sub-buckets per power of two, as a number of bits.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Enough buckets for any `u64`.
const BUCKETS: usize = (64 - SUB_BITS as usize) * SUB + SUB;

/// Counts of nanosecond values.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    /// Records one value.
    pub(crate) fn record(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    /// Adds another histogram's counts to this one.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// How many values were recorded.
    pub(crate) fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded, exactly.
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The value below which `fraction` of the values lie (the middle of its
    /// bucket, capped at the maximum); `None` when empty.
    pub(crate) fn quantile(&self, fraction: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((fraction * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(middle(i).min(self.max));
            }
        }
        Some(self.max)
    }
}

fn index(value: u64) -> usize {
    if value < (2 * SUB) as u64 {
        return value as usize;
    }
    let shift = 63 - value.leading_zeros() - SUB_BITS;
    let mantissa = (value >> shift) as usize; // in SUB..2*SUB
    (shift as usize + 1) * SUB + (mantissa - SUB)
}

fn middle(index: usize) -> u64 {
    if index < 2 * SUB {
        return index as u64;
    }
    let shift = (index / SUB - 1) as u32;
    let mantissa = (index % SUB + SUB) as u64;
    let low = mantissa << shift;
    low + (1u64 << shift) / 2
}
