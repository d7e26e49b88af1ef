//! The float types `#[grad]` functions and the helpers are generic over. Sealed: only `f32`
//! and `f64`.

mod sealed {
    use crate::__private::{FloatField, Partial};
    use crate::params::SameFloat;
    use crate::Differentiable;

    /// What generated code needs of a float type, implemented for `f32` and `f64` one by one
    /// (so that rustc's messages about other types name the trait that failed), and so known
    /// of a generic `T: Real` too.
    pub trait Sealed:
        Partial<Self> + FloatField<F = Self> + SameFloat<Self> + Differentiable<Scalar = Self>
    {
    }
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// `f32` or `f64`: the float type of a function generic over it, `fn f<T: Real>(x: T) -> T`.
///
/// `#[grad]` differentiates such a function once, for both types: its companions are generic
/// too (`f_grad::<f32>`, `f_grad::<f64>`), and each instance is the code written for its type.
/// The trait has every method of `f32`/`f64` the derivative table knows, under the same names,
/// so a generic body reads like a concrete one (`x.exp()`, `x.powi(2)`, `a.max(b)`). Constants
/// are written [`T::from_f64(2.0)`](Real::from_f64) (rounded once for `f32`), or
/// [`T::ZERO`](Real::ZERO) and [`T::ONE`](Real::ONE).
///
/// The trait is sealed: `f32` and `f64` are the types `#[grad]` differentiates.
pub trait Real:
    sealed::Sealed
    + crate::trace::Elements
    + Copy
    + Default
    + PartialOrd
    + PartialEq
    + core::fmt::Debug
    + core::fmt::Display
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::ops::Div<Output = Self>
    + core::ops::Rem<Output = Self>
    + core::ops::Neg<Output = Self>
    + core::ops::AddAssign
    + core::ops::SubAssign
    + core::ops::MulAssign
    + core::ops::DivAssign
    + core::ops::RemAssign
    + core::iter::Sum
    + core::iter::Product
    + Send
    + Sync
    + 'static
{
    /// `0`.
    const ZERO: Self;
    /// `1`.
    const ONE: Self;
    /// Converts from `f64` (rounding for `f32`): how constants are written in generic code.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact). Not differentiated: in a `#[grad]` function it may be applied
    /// to data only.
    fn to_f64(self) -> f64;
    /// `self^n` for an integer `n`.
    fn powi(self, n: i32) -> Self;
    /// `self · a + b`, rounded once.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `self` limited to `[min, max]`.
    fn clamp(self, min: Self, max: Self) -> Self;
    /// Whether `self` is NaN.
    fn is_nan(self) -> bool;
    /// Whether `self` is neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// Whether `self` is infinite.
    fn is_infinite(self) -> bool;
    /// Whether the sign bit is clear (`+0` included).
    fn is_sign_positive(self) -> bool;
    /// Whether the sign bit is set (`−0` included).
    fn is_sign_negative(self) -> bool;
    /// `e^self`.
    fn exp(self) -> Self;
    /// `2^self`.
    fn exp2(self) -> Self;
    /// `e^self − 1`, accurate near zero.
    fn exp_m1(self) -> Self;
    /// The natural logarithm.
    fn ln(self) -> Self;
    /// The base-2 logarithm.
    fn log2(self) -> Self;
    /// The base-10 logarithm.
    fn log10(self) -> Self;
    /// `ln(1 + self)`, accurate near zero.
    fn ln_1p(self) -> Self;
    /// `√self`.
    fn sqrt(self) -> Self;
    /// The cube root.
    fn cbrt(self) -> Self;
    /// `1 / self`.
    fn recip(self) -> Self;
    /// The sine (radians).
    fn sin(self) -> Self;
    /// The cosine (radians).
    fn cos(self) -> Self;
    /// The tangent (radians).
    fn tan(self) -> Self;
    /// The arcsine, in radians.
    fn asin(self) -> Self;
    /// The arccosine, in radians.
    fn acos(self) -> Self;
    /// The arctangent, in radians.
    fn atan(self) -> Self;
    /// Degrees to radians.
    fn to_radians(self) -> Self;
    /// Radians to degrees.
    fn to_degrees(self) -> Self;
    /// The hyperbolic sine.
    fn sinh(self) -> Self;
    /// The hyperbolic cosine.
    fn cosh(self) -> Self;
    /// The hyperbolic tangent.
    fn tanh(self) -> Self;
    /// The inverse hyperbolic sine.
    fn asinh(self) -> Self;
    /// The inverse hyperbolic cosine.
    fn acosh(self) -> Self;
    /// The inverse hyperbolic tangent.
    fn atanh(self) -> Self;
    /// `|self|`.
    fn abs(self) -> Self;
    /// `1` for positive values (and `+0`), `−1` for negative ones (and `−0`), NaN for NaN.
    fn signum(self) -> Self;
    /// The largest integer at most `self`.
    fn floor(self) -> Self;
    /// The smallest integer at least `self`.
    fn ceil(self) -> Self;
    /// The nearest integer, halves away from zero.
    fn round(self) -> Self;
    /// The integer part.
    fn trunc(self) -> Self;
    /// The nearest integer, halves to even.
    fn round_ties_even(self) -> Self;
    /// `self − self.trunc()`.
    fn fract(self) -> Self;
    /// The logarithm to `base`.
    fn log(self, base: Self) -> Self;
    /// `self^n`.
    fn powf(self, n: Self) -> Self;
    /// `√(self² + other²)`, without overflow.
    fn hypot(self, other: Self) -> Self;
    /// The four-quadrant arctangent of `self / other`, in radians.
    fn atan2(self, other: Self) -> Self;
    /// The smaller of the two (the other where one is NaN).
    fn min(self, other: Self) -> Self;
    /// The larger of the two (the other where one is NaN).
    fn max(self, other: Self) -> Self;
    /// `(self + other) / 2`, without overflow.
    fn midpoint(self, other: Self) -> Self;
    /// `|self|` with the sign of `sign`.
    fn copysign(self, sign: Self) -> Self;
    /// The least non-negative remainder of `self / rhs`.
    fn rem_euclid(self, rhs: Self) -> Self;
    /// The quotient of Euclidean division.
    fn div_euclid(self, rhs: Self) -> Self;
}

macro_rules! impl_real {
    ($t:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn powi(self, n: i32) -> Self {
                <$t>::powi(self, n)
            }
            #[inline]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline]
            fn clamp(self, min: Self, max: Self) -> Self {
                <$t>::clamp(self, min, max)
            }
            #[inline]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline]
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            #[inline]
            fn is_sign_positive(self) -> bool {
                <$t>::is_sign_positive(self)
            }
            #[inline]
            fn is_sign_negative(self) -> bool {
                <$t>::is_sign_negative(self)
            }
            #[inline]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline]
            fn exp2(self) -> Self {
                <$t>::exp2(self)
            }
            #[inline]
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            #[inline]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline]
            fn log2(self) -> Self {
                <$t>::log2(self)
            }
            #[inline]
            fn log10(self) -> Self {
                <$t>::log10(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline]
            fn cbrt(self) -> Self {
                <$t>::cbrt(self)
            }
            #[inline]
            fn recip(self) -> Self {
                <$t>::recip(self)
            }
            #[inline]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline]
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            #[inline]
            fn asin(self) -> Self {
                <$t>::asin(self)
            }
            #[inline]
            fn acos(self) -> Self {
                <$t>::acos(self)
            }
            #[inline]
            fn atan(self) -> Self {
                <$t>::atan(self)
            }
            #[inline]
            fn to_radians(self) -> Self {
                <$t>::to_radians(self)
            }
            #[inline]
            fn to_degrees(self) -> Self {
                <$t>::to_degrees(self)
            }
            #[inline]
            fn sinh(self) -> Self {
                <$t>::sinh(self)
            }
            #[inline]
            fn cosh(self) -> Self {
                <$t>::cosh(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline]
            fn asinh(self) -> Self {
                <$t>::asinh(self)
            }
            #[inline]
            fn acosh(self) -> Self {
                <$t>::acosh(self)
            }
            #[inline]
            fn atanh(self) -> Self {
                <$t>::atanh(self)
            }
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn signum(self) -> Self {
                <$t>::signum(self)
            }
            #[inline]
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            #[inline]
            fn ceil(self) -> Self {
                <$t>::ceil(self)
            }
            #[inline]
            fn round(self) -> Self {
                <$t>::round(self)
            }
            #[inline]
            fn trunc(self) -> Self {
                <$t>::trunc(self)
            }
            #[inline]
            fn round_ties_even(self) -> Self {
                <$t>::round_ties_even(self)
            }
            #[inline]
            fn fract(self) -> Self {
                <$t>::fract(self)
            }
            #[inline]
            fn log(self, base: Self) -> Self {
                <$t>::log(self, base)
            }
            #[inline]
            fn powf(self, n: Self) -> Self {
                <$t>::powf(self, n)
            }
            #[inline]
            fn hypot(self, other: Self) -> Self {
                <$t>::hypot(self, other)
            }
            #[inline]
            fn atan2(self, other: Self) -> Self {
                <$t>::atan2(self, other)
            }
            #[inline]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline]
            fn midpoint(self, other: Self) -> Self {
                <$t>::midpoint(self, other)
            }
            #[inline]
            fn copysign(self, sign: Self) -> Self {
                <$t>::copysign(self, sign)
            }
            #[inline]
            fn rem_euclid(self, rhs: Self) -> Self {
                <$t>::rem_euclid(self, rhs)
            }
            #[inline]
            fn div_euclid(self, rhs: Self) -> Self {
                <$t>::div_euclid(self, rhs)
            }
        }
    };
}

impl_real!(f32);
impl_real!(f64);
