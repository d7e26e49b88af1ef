//! What a `#[grad]` function calls in place of a function that has no pullback (written out
//! per arity, so that rustc's messages show plain code). Not part of the public API.

// Their signatures are tuples of their parameters, as the pullbacks they stand for.
#![allow(clippy::type_complexity, clippy::too_many_arguments)]

use crate::__private::IsAGradFunction;
use core::marker::PhantomData;

/// What a `#[grad]` function calls in place of a function with `N` parameters that has no
/// pullback: its `pullback` requires [`IsAGradFunction`], so the call fails with that trait's
/// message, naming this type (not one of the macro's own).
pub struct NotAGradFunction<const N: usize, F>(PhantomData<F>);

/// The same stand-in without the requirement, for the companions after the first: the mistake
/// is said once.
pub struct QuietStandIn<const N: usize, F>(PhantomData<F>);

impl<F> NotAGradFunction<0, F> {
    /// Never runs: the call does not compile.
    pub fn pullback() -> (F, ())
    where
        Self: IsAGradFunction<()>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<D>(_: D) -> ((F, ()), (F, ()))
    where
        Self: IsAGradFunction<()>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<0, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback() -> (F, ()) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<D>(_: D) -> ((F, ()), (F, ())) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<1, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0>(_: A0) -> (F, (A0,))
    where
        Self: IsAGradFunction<(A0,)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, D>(_: A0, _: D) -> ((F, (A0,)), (F, (A0,)))
    where
        Self: IsAGradFunction<(A0,)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<1, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0>(_: A0) -> (F, (A0,)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, D>(_: A0, _: D) -> ((F, (A0,)), (F, (A0,))) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<2, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1>(_: A0, _: A1) -> (F, (A0, A1))
    where
        Self: IsAGradFunction<(A0, A1)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, D>(_: A0, _: A1, _: D) -> ((F, (A0, A1)), (F, (A0, A1)))
    where
        Self: IsAGradFunction<(A0, A1)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<2, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1>(_: A0, _: A1) -> (F, (A0, A1)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, D>(_: A0, _: A1, _: D) -> ((F, (A0, A1)), (F, (A0, A1))) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<3, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2>(_: A0, _: A1, _: A2) -> (F, (A0, A1, A2))
    where
        Self: IsAGradFunction<(A0, A1, A2)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, D>(
        _: A0,
        _: A1,
        _: A2,
        _: D,
    ) -> ((F, (A0, A1, A2)), (F, (A0, A1, A2)))
    where
        Self: IsAGradFunction<(A0, A1, A2)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<3, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2>(_: A0, _: A1, _: A2) -> (F, (A0, A1, A2)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, D>(
        _: A0,
        _: A1,
        _: A2,
        _: D,
    ) -> ((F, (A0, A1, A2)), (F, (A0, A1, A2))) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<4, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3>(_: A0, _: A1, _: A2, _: A3) -> (F, (A0, A1, A2, A3))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: D,
    ) -> ((F, (A0, A1, A2, A3)), (F, (A0, A1, A2, A3)))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<4, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3>(_: A0, _: A1, _: A2, _: A3) -> (F, (A0, A1, A2, A3)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: D,
    ) -> ((F, (A0, A1, A2, A3)), (F, (A0, A1, A2, A3))) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<5, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
    ) -> (F, (A0, A1, A2, A3, A4))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: D,
    ) -> ((F, (A0, A1, A2, A3, A4)), (F, (A0, A1, A2, A3, A4)))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<5, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
    ) -> (F, (A0, A1, A2, A3, A4)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: D,
    ) -> ((F, (A0, A1, A2, A3, A4)), (F, (A0, A1, A2, A3, A4))) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<6, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
    ) -> (F, (A0, A1, A2, A3, A4, A5))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: D,
    ) -> ((F, (A0, A1, A2, A3, A4, A5)), (F, (A0, A1, A2, A3, A4, A5)))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<6, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
    ) -> (F, (A0, A1, A2, A3, A4, A5)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: D,
    ) -> ((F, (A0, A1, A2, A3, A4, A5)), (F, (A0, A1, A2, A3, A4, A5))) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<7, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6)),
        (F, (A0, A1, A2, A3, A4, A5, A6)),
    )
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<7, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6)),
        (F, (A0, A1, A2, A3, A4, A5, A6)),
    ) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<8, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7)),
    )
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<8, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7)),
    ) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<9, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7, A8>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7, A8)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, A8, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8)),
    )
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7, A8)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<9, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7, A8>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, A8, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8)),
    ) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<10, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7, A8, A9)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9)),
    )
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7, A8, A9)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<10, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9)),
    ) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<11, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: A10,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: A10,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)),
    )
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<11, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: A10,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: A10,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)),
    ) {
        unreachable!()
    }
}

impl<F> NotAGradFunction<12, F> {
    /// Never runs: the call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: A10,
        _: A11,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11))
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11)>,
    {
        unreachable!()
    }

    /// Never runs: the call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: A10,
        _: A11,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11)),
    )
    where
        Self: IsAGradFunction<(A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11)>,
    {
        unreachable!()
    }
}

impl<F> QuietStandIn<12, F> {
    /// Never runs: the first companion's call does not compile.
    pub fn pullback<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: A10,
        _: A11,
    ) -> (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11)) {
        unreachable!()
    }

    /// Never runs: the first companion's call does not compile.
    pub fn pullback_jvp<A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, D>(
        _: A0,
        _: A1,
        _: A2,
        _: A3,
        _: A4,
        _: A5,
        _: A6,
        _: A7,
        _: A8,
        _: A9,
        _: A10,
        _: A11,
        _: D,
    ) -> (
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11)),
        (F, (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11)),
    ) {
        unreachable!()
    }
}

/// `pullback_hessian` of both stand-ins, per arity: what a `_hessian` calls where its `_hvp`
/// calls `pullback_jvp` (so it says nothing itself: the first-order `pullback`, or the `_hvp`'s
/// call, fails first).
macro_rules! pullback_hessian {
    ($($n:literal => ($($a:ident),*)),* $(,)?) => {$(
        impl<F> NotAGradFunction<$n, F> {
            /// Never runs: the call of `pullback` does not compile.
            pub fn pullback_hessian<$($a),*>($(_: $a),*) -> ((F, ($($a,)*)), [[F; $n]; $n]) {
                unreachable!()
            }
        }
        impl<F> QuietStandIn<$n, F> {
            /// Never runs: the first companion's call does not compile.
            pub fn pullback_hessian<$($a),*>($(_: $a),*) -> ((F, ($($a,)*)), [[F; $n]; $n]) {
                unreachable!()
            }
        }
    )*};
}

pullback_hessian! {
    0 => (),
    1 => (A0),
    2 => (A0, A1),
    3 => (A0, A1, A2),
    4 => (A0, A1, A2, A3),
    5 => (A0, A1, A2, A3, A4),
    6 => (A0, A1, A2, A3, A4, A5),
    7 => (A0, A1, A2, A3, A4, A5, A6),
    8 => (A0, A1, A2, A3, A4, A5, A6, A7),
    9 => (A0, A1, A2, A3, A4, A5, A6, A7, A8),
    10 => (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9),
    11 => (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10),
    12 => (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11),
}
