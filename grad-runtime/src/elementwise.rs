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
}

macro_rules! float {
    ($f:ty) => {
        impl Elementwise for $f {
            type F = $f;
            #[inline(always)]
            fn add_assign(&mut self, other: &Self) {
                *self += *other;
            }
            #[inline(always)]
            fn sub_assign(&mut self, other: &Self) {
                *self -= *other;
            }
            #[inline(always)]
            fn fill(&mut self, v: $f) {
                *self = v;
            }
        }
    };
}
float!(f32);
float!(f64);

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
}

impl<A: Elementwise, const N: usize> Elementwise for [A; N] {
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
}

impl<A: Elementwise> Elementwise for alloc::vec::Vec<A> {
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
}

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
        let mut v = alloc::vec![1.0f32, 2.0];
        add_assign(&mut v, &alloc::vec![1.0, 1.0]);
        assert_eq!(v, [2.0, 3.0]);
    }
}
