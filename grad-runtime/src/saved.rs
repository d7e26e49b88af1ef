//! Storage for the values a loop carries from one iteration to the next, kept by the forward
//! pass of generated code and read back, last first, by the reverse sweep.
//!
//! A loop whose iterations only add into sums stores nothing: its reverse sweep recomputes each
//! iteration. A loop with other carried state (a recurrence `h = (w * h + x).tanh()`, a
//! running product) stores exactly those carried values, one entry per iteration, in storage
//! made before the loop: [`SavedN`] on the stack when the trip count is a constant, [`Saved`]
//! (a vector with the trip count as capacity, so one allocation) otherwise.

/// Carried values of a loop whose trip count is only known at run time: one allocation, of
/// the capacity given (a `while` loop, whose trip count is unknown, grows it as a `Vec` does).
#[derive(Debug, Clone, Default)]
pub struct Saved<T> {
    items: Vec<T>,
}

impl<T> Saved<T> {
    /// Storage for `n` iterations.
    #[inline]
    pub fn with_capacity(n: usize) -> Self {
        Saved {
            items: Vec::with_capacity(n),
        }
    }

    /// Storage for `iter`'s iterations (its size hint's upper bound, else its lower bound).
    #[inline]
    pub fn for_iter<I: IntoIterator>(iter: I) -> Self {
        let (lo, hi) = iter.into_iter().size_hint();
        Self::with_capacity(hi.unwrap_or(lo))
    }

    /// Empty storage that has not allocated yet: made once before a loop whose inner loop
    /// keeps values, and restarted before each run of the inner loop, so that the inner loop's
    /// runs share one allocation.
    #[inline]
    pub const fn new() -> Self {
        Saved { items: Vec::new() }
    }

    /// Empties the storage and makes room for `iter`'s iterations (see [`Saved::for_iter`]),
    /// reusing the allocation it has.
    #[inline]
    pub fn restart<I: IntoIterator>(&mut self, iter: I) {
        let (lo, hi) = iter.into_iter().size_hint();
        self.restart_with_capacity(hi.unwrap_or(lo));
    }

    /// Empties the storage and makes room for `n` iterations, reusing the allocation it has.
    #[inline]
    pub fn restart_with_capacity(&mut self, n: usize) {
        self.items.clear();
        self.items.reserve(n);
    }

    /// Keeps one iteration's values.
    #[inline]
    pub fn push(&mut self, v: T) {
        self.items.push(v);
    }

    /// The values of the last iteration not yet read back.
    ///
    /// # Panics
    /// If more iterations are read back than were kept, which generated code never does.
    #[inline]
    pub fn pop(&mut self) -> T {
        match self.items.pop() {
            Some(v) => v,
            None => panic!("backprop: reverse sweep read more iterations than the loop ran"),
        }
    }
}

/// Carried values of a loop that runs at most `N` times (a constant trip count), on the stack.
#[derive(Debug, Clone, Copy)]
pub struct SavedN<T: Copy, const N: usize> {
    items: [Option<T>; N],
    len: usize,
}

impl<T: Copy, const N: usize> Default for SavedN<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy, const N: usize> SavedN<T, N> {
    /// Empty storage.
    #[inline]
    pub fn new() -> Self {
        SavedN {
            items: [None; N],
            len: 0,
        }
    }

    /// Keeps one iteration's values.
    ///
    /// # Panics
    /// If the loop runs more than `N` times, which the macro rules out by choosing `N`.
    #[inline]
    pub fn push(&mut self, v: T) {
        self.items[self.len] = Some(v);
        self.len += 1;
    }

    /// The values of the last iteration not yet read back.
    ///
    /// # Panics
    /// If more iterations are read back than were kept, which generated code never does.
    #[inline]
    pub fn pop(&mut self) -> T {
        self.len -= 1;
        match self.items[self.len] {
            Some(v) => v,
            None => panic!("backprop: reverse sweep read more iterations than the loop ran"),
        }
    }
}

/// The first `n` items of `iter`, last first: the iterations a loop that stopped early (by
/// `break` or `return`) ran, in the order the reverse sweep visits them.
#[inline]
pub fn rev_prefix<I>(iter: I, n: usize) -> core::iter::Skip<core::iter::Rev<I::IntoIter>>
where
    I: IntoIterator,
    I::IntoIter: DoubleEndedIterator + Clone,
{
    let it = iter.into_iter();
    let total = match it.size_hint() {
        (lo, Some(hi)) if lo == hi => lo,
        _ => it.clone().count(),
    };
    it.rev().skip(total.saturating_sub(n))
}

/// A float, or a reference to one, as a float: generated code passes a loop's item through it
/// where a float value is required.
pub trait Scalar<F> {
    /// The value.
    fn value(self) -> F;
}

impl<F: crate::Real> Scalar<F> for F {
    #[inline]
    fn value(self) -> F {
        self
    }
}

impl<F: crate::Real> Scalar<F> for &F {
    #[inline]
    fn value(self) -> F {
        *self
    }
}

impl<F: crate::Real> Scalar<F> for &&F {
    #[inline]
    fn value(self) -> F {
        **self
    }
}

/// `x` (a float or a reference to one) as a float.
#[inline]
pub fn val<F, T: Scalar<F>>(x: T) -> F {
    x.value()
}

/// The items of `iter` with their positions.
#[inline]
pub fn enumerate<I: IntoIterator>(iter: I) -> core::iter::Enumerate<I::IntoIter> {
    iter.into_iter().enumerate()
}

/// The first `n` items of `iter`.
#[inline]
pub fn take<I: IntoIterator>(iter: I, n: usize) -> core::iter::Take<I::IntoIter> {
    iter.into_iter().take(n)
}

/// The items of `iter`, last first.
#[inline]
pub fn rev<I>(iter: I) -> core::iter::Rev<I::IntoIter>
where
    I: IntoIterator,
    I::IntoIter: DoubleEndedIterator,
{
    iter.into_iter().rev()
}

/// The items of `iter` with their positions, last first.
#[inline]
pub fn enumerate_rev<I>(iter: I) -> core::iter::Rev<core::iter::Enumerate<I::IntoIter>>
where
    I: IntoIterator,
    I::IntoIter: DoubleEndedIterator + ExactSizeIterator,
{
    iter.into_iter().enumerate().rev()
}

/// The first `n` items of `iter` with their positions, last first.
#[inline]
pub fn enumerate_rev_prefix<I>(
    iter: I,
    n: usize,
) -> core::iter::Skip<core::iter::Rev<core::iter::Enumerate<I::IntoIter>>>
where
    I: IntoIterator,
    I::IntoIter: DoubleEndedIterator + ExactSizeIterator,
{
    let it = iter.into_iter().enumerate();
    let total = it.len();
    it.rev().skip(total.saturating_sub(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_pop_last_first() {
        let mut s = SavedN::<(f64, usize), 3>::new();
        let mut h = Saved::for_iter(0..3);
        for i in 0..3 {
            s.push((i as f64, i));
            h.push(i);
        }
        assert_eq!(h.items.capacity(), 3);
        for i in (0..3).rev() {
            assert_eq!(s.pop(), (i as f64, i));
            assert_eq!(h.pop(), i);
        }
    }

    #[test]
    fn rev_prefix_visits_the_iterations_that_ran() {
        let v: Vec<i32> = rev_prefix(0..10, 3).collect();
        assert_eq!(v, [2, 1, 0]);
        let v: Vec<i32> = rev_prefix(0..=9, 3).collect();
        assert_eq!(v, [2, 1, 0]);
        let xs = [1.0, 2.0, 3.0];
        let v: Vec<(&f64, &f64)> = rev_prefix(xs.iter().zip(&xs[..2]), 1).collect();
        assert_eq!(v, [(&1.0, &1.0)]);
        let v: Vec<i32> = rev_prefix((0..4).filter(|i| i % 2 == 0), 2).collect();
        assert_eq!(v, [2, 0]);
        let v: Vec<(usize, &f64)> = enumerate_rev_prefix(&xs, 2).collect();
        assert_eq!(v, [(1, &2.0), (0, &1.0)]);
        let v: Vec<(usize, &f64)> = enumerate_rev(&xs).collect();
        assert_eq!(v, [(2, &3.0), (1, &2.0), (0, &1.0)]);
    }
}

/// The range `r` cut into about √n consecutive ranges of about √n each (`n` its length), in
/// order: what a loop with `#[grad(.., checkpoint)]` runs over, one segment per iteration of an
/// outer loop, so that the reverse sweep keeps state once per segment and recomputes one
/// segment at a time.
pub fn segments<T>(r: core::ops::Range<T>) -> alloc::vec::IntoIter<Segment<T>>
where
    T: Copy,
    core::ops::Range<T>: Iterator<Item = T> + Clone,
{
    let n = r.size_hint().0;
    // ⌈√n⌉, at least 1.
    let mut s = 1usize;
    while s.saturating_mul(s) < n {
        s += 1;
    }
    let starts: alloc::vec::Vec<T> = r.clone().step_by(s).collect();
    let mut out = alloc::vec::Vec::with_capacity(starts.len());
    for (i, &a) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(r.end);
        out.push(Segment { start: a, end });
    }
    out.into_iter()
}

/// One of [`segments`]: the range `start..end`, and `Copy` (the generated code walks it once
/// and sizes storage for it once more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<T> {
    /// The first value.
    pub start: T,
    /// One past the last value.
    pub end: T,
}

impl<T> IntoIterator for Segment<T>
where
    core::ops::Range<T>: Iterator<Item = T>,
{
    type Item = T;
    type IntoIter = core::ops::Range<T>;
    #[inline]
    fn into_iter(self) -> core::ops::Range<T> {
        self.start..self.end
    }
}

#[cfg(test)]
mod segment_tests {
    use super::segments;

    #[test]
    fn segments_cover_the_range_in_order() {
        let r = |v: alloc::vec::Vec<super::Segment<i64>>| -> alloc::vec::Vec<(i64, i64)> {
            v.into_iter().map(|s| (s.start, s.end)).collect()
        };
        assert_eq!(r(segments(0..10i64).collect()), [(0, 4), (4, 8), (8, 10)]);
        assert_eq!(r(segments(-3..6i64).collect()), [(-3, 0), (0, 3), (3, 6)]);
        assert_eq!(segments(5..5u64).count(), 0);
        assert_eq!(r(segments(0..1i64).collect()), [(0, 1)]);
        let all: alloc::vec::Vec<usize> = segments(0..100usize).flatten().collect();
        assert_eq!(all, (0..100).collect::<alloc::vec::Vec<_>>());
        assert_eq!(segments(0..100usize).count(), 10);
    }
}
