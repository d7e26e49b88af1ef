//! Floats and arrays of floats seen as flat vectors: what the second-order companions of a
//! function with array `wrt` parameters use to run one direction per element (a unit tangent,
//! a unit vector) and to write the results into rows of a matrix, in `wrt` order.

/// A float or an array (nested to any depth) of floats `F`, seen as `LEN` floats in row-major
/// order.
pub trait Flat: Sized {
    /// The float type.
    type F: Copy;
    /// The number of floats.
    const LEN: usize;
    /// The unit vector along element `k`: 1 there, 0 elsewhere; all zeros when `k >= LEN`.
    fn unit(k: usize) -> Self;
    /// Element `k`, set to `v` (nothing when `k >= LEN`).
    fn set(&mut self, k: usize, v: Self::F);
    /// The elements in order, into `out[..LEN]`.
    fn write(&self, out: &mut [Self::F]);
}

impl<R: crate::Real> Flat for R {
    type F = R;
    const LEN: usize = 1;
    #[inline(always)]
    fn unit(k: usize) -> Self {
        if k == 0 {
            R::ONE
        } else {
            R::ZERO
        }
    }
    #[inline(always)]
    fn set(&mut self, k: usize, v: R) {
        if k == 0 {
            *self = v;
        }
    }
    #[inline(always)]
    fn write(&self, out: &mut [R]) {
        out[0] = *self;
    }
}

impl<A: Flat, const N: usize> Flat for [A; N] {
    type F = A::F;
    const LEN: usize = A::LEN * N;
    #[inline]
    fn unit(k: usize) -> Self {
        core::array::from_fn(|i| A::unit(k.wrapping_sub(i * A::LEN)))
    }
    #[inline]
    fn set(&mut self, k: usize, v: A::F) {
        if A::LEN > 0 && k < Self::LEN {
            self[k / A::LEN].set(k % A::LEN, v);
        }
    }
    #[inline]
    fn write(&self, out: &mut [A::F]) {
        for (i, a) in self.iter().enumerate() {
            a.write(&mut out[i * A::LEN..]);
        }
    }
}

/// The unit vector along element `k` of a float or array (see [`Flat::unit`]).
#[inline(always)]
pub fn unit<A: Flat>(k: usize) -> A {
    A::unit(k)
}

/// `a[k] = v`, seeing `a` flat (see [`Flat::set`]).
#[inline(always)]
pub fn set<A: Flat>(a: &mut A, k: usize, v: A::F) {
    a.set(k, v);
}

/// `a`'s elements, into `out` (see [`Flat::write`]).
#[inline(always)]
pub fn write<A: Flat>(a: &A, out: &mut [A::F]) {
    a.write(out);
}

/// Copies the upper triangle of a square matrix onto the lower one: `h[i][j] = h[j][i]` for
/// `j < i`, so the matrix is exactly symmetric.
#[inline]
#[allow(clippy::needless_range_loop)] // h[i][j] and h[j][i]: both indices are needed
pub fn mirror_upper<F: Copy, const N: usize>(h: &mut [[F; N]; N]) {
    for i in 0..N {
        for j in 0..i {
            h[i][j] = h[j][i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_arrays_are_row_major() {
        let u: [[f64; 3]; 2] = unit(4);
        assert_eq!(u, [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        let z: [[f64; 3]; 2] = unit(6);
        assert_eq!(z, [[0.0; 3]; 2]);
        let mut a = [[0.0_f64; 3]; 2];
        set(&mut a, 2, 7.0);
        set(&mut a, 3, 8.0);
        set(&mut a, 6, 9.0);
        assert_eq!(a, [[0.0, 0.0, 7.0], [8.0, 0.0, 0.0]]);
        let mut out = [0.0; 7];
        write(&a, &mut out[1..]);
        assert_eq!(out, [0.0, 0.0, 0.0, 7.0, 8.0, 0.0, 0.0]);
        assert_eq!(<[[f32; 3]; 2] as Flat>::LEN, 6);
        let x: f32 = unit(0);
        assert_eq!(x, 1.0);
    }

    #[test]
    fn mirror_copies_the_upper_triangle() {
        let mut h = [[1.0, 2.0, 3.0], [9.0, 4.0, 5.0], [9.0, 9.0, 6.0]];
        mirror_upper(&mut h);
        assert_eq!(h, [[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]]);
    }
}
