//! Whole-array arithmetic for generated code: the adjoint of a copy `u = v` adds `u`'s adjoint
//! into `v`'s and zeroes `u`'s, element by element, for arrays nested to any depth.

/// A float, or an array, slice or `Vec` (nested to any depth) of floats, written element by
/// element.
pub trait Elementwise {
    /// The float type.
    type F: Copy;
    /// `self[..] += other[..]`.
    fn add_assign(&mut self, other: &Self);
    /// `self[..] -= other[..]`.
    fn sub_assign(&mut self, other: &Self);
    /// Every element set to `v`.
    fn fill(&mut self, v: Self::F);
    /// Every element multiplied by `s`.
    fn scale(&mut self, s: Self::F);
    /// `acc += Σ self[..] · other[..]`.
    fn dot_into(&self, other: &Self, acc: &mut Self::F);
    /// `self[..] += s · other[..]`.
    fn add_scaled(&mut self, other: &Self, s: Self::F);
}

impl<R: crate::Real> Elementwise for R {
    type F = R;
    #[inline(always)]
    fn add_assign(&mut self, other: &Self) {
        *self += *other;
    }
    #[inline(always)]
    fn sub_assign(&mut self, other: &Self) {
        *self -= *other;
    }
    #[inline(always)]
    fn fill(&mut self, v: R) {
        *self = v;
    }
    #[inline(always)]
    fn scale(&mut self, s: R) {
        *self *= s;
    }
    #[inline(always)]
    fn dot_into(&self, other: &Self, acc: &mut R) {
        *acc += *self * *other;
    }
    #[inline(always)]
    fn add_scaled(&mut self, other: &Self, s: R) {
        *self += s * *other;
    }
}

impl<A: Elementwise> Elementwise for [A] {
    type F = A::F;
    #[inline]
    fn add_assign(&mut self, other: &Self) {
        for (a, b) in self.iter_mut().zip(other) {
            a.add_assign(b);
        }
    }
    #[inline]
    fn sub_assign(&mut self, other: &Self) {
        for (a, b) in self.iter_mut().zip(other) {
            a.sub_assign(b);
        }
    }
    #[inline]
    fn fill(&mut self, v: A::F) {
        for a in self.iter_mut() {
            a.fill(v);
        }
    }
    #[inline]
    fn scale(&mut self, s: A::F) {
        for a in self.iter_mut() {
            a.scale(s);
        }
    }
    #[inline]
    fn dot_into(&self, other: &Self, acc: &mut A::F) {
        for (a, b) in self.iter().zip(other) {
            a.dot_into(b, acc);
        }
    }
    #[inline]
    fn add_scaled(&mut self, other: &Self, s: A::F) {
        for (a, b) in self.iter_mut().zip(other) {
            a.add_scaled(b, s);
        }
    }
}

/// Arrays and `Vec`s: element by element through their slice.
macro_rules! through_slice {
    ($($t:ty => [$($g:tt)*]),*) => {$(
        impl<$($g)*> Elementwise for $t {
            type F = A::F;
            #[inline]
            fn add_assign(&mut self, other: &Self) {
                Elementwise::add_assign(&mut self[..], &other[..]);
            }
            #[inline]
            fn sub_assign(&mut self, other: &Self) {
                Elementwise::sub_assign(&mut self[..], &other[..]);
            }
            #[inline]
            fn fill(&mut self, v: A::F) {
                Elementwise::fill(&mut self[..], v);
            }
            #[inline]
            fn scale(&mut self, s: A::F) {
                Elementwise::scale(&mut self[..], s);
            }
            #[inline]
            fn dot_into(&self, other: &Self, acc: &mut A::F) {
                self[..].dot_into(&other[..], acc);
            }
            #[inline]
            fn add_scaled(&mut self, other: &Self, s: A::F) {
                Elementwise::add_scaled(&mut self[..], &other[..], s);
            }
        }
    )*};
}
through_slice!([A; N] => [A: Elementwise, const N: usize], alloc::vec::Vec<A> => [A: Elementwise]);

/// `a += b`, element by element.
#[inline(always)]
pub fn add_assign<T: Elementwise + ?Sized>(a: &mut T, b: &T) {
    a.add_assign(b);
}

/// `a -= b`, element by element.
#[inline(always)]
pub fn sub_assign<T: Elementwise + ?Sized>(a: &mut T, b: &T) {
    a.sub_assign(b);
}

/// Every element of `a` set to `v`.
#[inline(always)]
pub fn fill<T: Elementwise + ?Sized>(a: &mut T, v: T::F) {
    a.fill(v);
}

/// `a += s · b`, element by element: a callee's gradient with respect to an array, scaled by
/// the adjoint of the call's value, added into the array's adjoint by the caller's sweep.
#[inline(always)]
pub fn add_scaled<T: Elementwise + ?Sized>(a: &mut T, b: &T, s: T::F) {
    a.add_scaled(b, s);
}

/// `zero + Σ a[..] · b[..]`: a callee's gradient with respect to an array dotted with the
/// array's tangent, for a caller in forward mode.
#[inline(always)]
pub fn dot<T: Elementwise>(a: &T, b: &T, zero: T::F) -> T::F {
    let mut acc = zero;
    a.dot_into(b, &mut acc);
    acc
}

/// An array of zeros shaped like `a` (an array a `#[grad]` function returned, whose lengths the
/// caller's source does not write, or a field of a struct of parameters: an array or a `Vec`).
#[inline(always)]
pub fn zeros_like<T: Elementwise + Clone>(a: &T, zero: T::F) -> T {
    let mut z = a.clone();
    z.fill(zero);
    z
}

/// `Σᵢ dy[i] · j[i]`: the adjoint `dy` of an array a `#[grad]` function returned, pulled back
/// through the callee's Jacobian block `j` (row `i` the gradient of element `i` with respect to
/// one argument): that argument's share of the adjoint.
///
/// # Panics
/// For `M = 0`: the macro gives no pullback to a function returning an empty array.
#[inline]
pub fn vjp<A: Elementwise + Clone, const M: usize>(j: &[A; M], dy: &[A::F; M], zero: A::F) -> A {
    let mut d = zeros_like(&j[0], zero);
    for (row, s) in j.iter().zip(dy) {
        d.add_scaled(row, *s);
    }
    d
}

/// `[j[i] · ṡ]ᵢ`: the part of the tangent of an array a `#[grad]` function returned that comes
/// from the tangent `ṡ` of one argument, in forward mode.
#[inline]
pub fn jvp<A: Elementwise, T: TangentOf<A> + ?Sized, const M: usize>(
    j: &[A; M],
    ds: &T,
    zero: A::F,
) -> [A::F; M] {
    core::array::from_fn(|i| ds.dot_with(&j[i], zero))
}

/// A tangent of an argument whose block of a Jacobian has rows of type `A`: a value of that
/// type or a reference to one (a struct's tangent is bound by reference), or a slice for rows
/// that are `Vec`s (a slice argument's tangent is a slice).
pub trait TangentOf<A: Elementwise> {
    /// `Σ self[..] · a[..]`.
    fn dot_with(&self, a: &A, zero: A::F) -> A::F;
}

impl<A: Elementwise> TangentOf<A> for A {
    #[inline(always)]
    fn dot_with(&self, a: &A, zero: A::F) -> A::F {
        dot(a, self, zero)
    }
}

impl<A: Elementwise> TangentOf<A> for &A {
    #[inline(always)]
    fn dot_with(&self, a: &A, zero: A::F) -> A::F {
        dot(a, self, zero)
    }
}

impl<A: Elementwise<F = A> + Copy + core::ops::Mul<Output = A> + core::ops::Add<Output = A>>
    TangentOf<alloc::vec::Vec<A>> for &[A]
{
    #[inline(always)]
    fn dot_with(&self, a: &alloc::vec::Vec<A>, zero: A) -> A {
        self.iter().zip(a).fold(zero, |acc, (x, y)| acc + *x * *y)
    }
}

/// The block of a Jacobian `[[F; W]; M]` that belongs to one argument of shape `A`, whose
/// elements start at flat column `at`: `[A; M]`, row `i` the gradient of output `i` with
/// respect to that argument.
#[inline]
pub fn jacobian_block<A: crate::flat::Flat, const M: usize, const W: usize>(
    jac: &[[A::F; W]; M],
    at: usize,
) -> [A; M] {
    core::array::from_fn(|i| {
        let mut a = A::unit(usize::MAX);
        for k in 0..A::LEN {
            a.set(k, jac[i][at + k]);
        }
        a
    })
}

/// A callee's partial derivative with respect to an array argument, as its pullback returned
/// it. A callee not differentiated in that argument returns `()`: the caller's build stops here
/// with a message that says what to do.
#[inline(always)]
pub fn partial_array<A, P: ArrayPartial<A>>(p: P) -> A {
    p.into_array()
}

#[diagnostic::on_unimplemented(
    message = "this array depends on a `wrt` parameter, but the `#[grad]` function it is passed to is not differentiated with respect to it",
    label = "the callee's pullback gives `{Self}` for this argument",
    note = "list the parameter in the callee's `#[grad(wrt = ...)]`, or annotate the callee with `#[grad]` alone, which differentiates it in every float parameter; for a `#[backprop::rule]`, give the array's partial in the rule (`v = [..]`, an array of its shape)"
)]
/// What a pullback returns for an array argument it is differentiated in (an array, or a `Vec`
/// for a slice).
///
/// The array's type is the caller's (what it adds the partial to), not the callee's answer, so
/// that where a callee gives `()` the build stops at this trait's message alone.
pub trait ArrayPartial<A> {
    /// The partial, as it is.
    fn into_array(self) -> A;
}

impl<A: Elementwise, const N: usize> ArrayPartial<[A; N]> for [A; N] {
    #[inline(always)]
    fn into_array(self) -> Self {
        self
    }
}
impl<A: Elementwise> ArrayPartial<alloc::vec::Vec<A>> for alloc::vec::Vec<A> {
    #[inline(always)]
    fn into_array(self) -> Self {
        self
    }
}
/// An array passed as a slice (`f(&w)` to `fn f(xs: &[f64])`): the callee's partial with
/// respect to the slice, a `Vec` of the array's length, into the array's shape.
#[diagnostic::do_not_recommend]
impl<A: Elementwise + Clone, const N: usize> ArrayPartial<[A; N]> for alloc::vec::Vec<A> {
    #[inline]
    fn into_array(self) -> [A; N] {
        assert_eq!(
            self.len(),
            N,
            "a slice's partial has the length of the array passed as the slice"
        );
        core::array::from_fn(|i| self[i].clone())
    }
}
/// What the stand-in for a function that is not `#[grad]` gives for an argument passed by
/// reference (the argument itself): its call does not compile, with a message of its own, so
/// this is never run; it keeps the build from reporting the same call a second time.
#[diagnostic::do_not_recommend]
impl<A> ArrayPartial<A> for &A {
    fn into_array(self) -> A {
        unreachable!(
            "only a stand-in gives a reference as a partial, and its call does not compile"
        )
    }
}

/// `a + b`, element by element, as a new value: the tangent of a product of a callee's
/// Jacobian block and an adjoint, in second order (the sum of the product rule's two terms).
#[inline]
pub fn added<T: Elementwise + Clone>(a: &T, b: &T, _zero: T::F) -> T {
    let mut s = a.clone();
    s.add_assign(b);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_arrays_add_and_fill() {
        let mut a = [[1.0, 2.0], [3.0, 4.0]];
        add_assign(&mut a, &[[0.5, 0.5], [1.0, -4.0]]);
        assert_eq!(a, [[1.5, 2.5], [4.0, 0.0]]);
        sub_assign(&mut a, &[[1.5, 0.0], [0.0, 1.0]]);
        assert_eq!(a, [[0.0, 2.5], [4.0, -1.0]]);
        fill(&mut a, 0.0);
        assert_eq!(a, [[0.0; 2]; 2]);
        let mut a = [[1.0, 1.0]];
        add_scaled(&mut a, &[[1.0, -2.0]], 3.0);
        assert_eq!(a, [[4.0, -5.0]]);
        assert_eq!(dot(&[[1.0, -2.0]], &[[3.0, 0.5]], 0.0), 2.0);
        let j: [[f64; 2]; 2] = jacobian_block(&[[9.0, 1.0, 2.0], [9.0, 3.0, 4.0]], 1);
        assert_eq!(j, [[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(vjp(&j, &[1.0, 10.0], 0.0), [31.0, 42.0]);
        assert_eq!(jvp(&j, &[1.0, 1.0], 0.0), [3.0, 7.0]);
        assert_eq!(zeros_like(&[[1.0, 2.0]], 0.0), [[0.0, 0.0]]);
        let mut v = alloc::vec![1.0f32, 2.0];
        add_assign(&mut v, &alloc::vec![1.0, 1.0]);
        assert_eq!(v, [2.0, 3.0]);
    }
}
