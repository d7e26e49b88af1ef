//! Parameters as values of any shape: floats, arrays, `Vec`s and structs of them
//! ([`Differentiable`]), and the optimisers that update them from a gradient of the same shape
//! ([`Sgd`], [`Adam`]).

use crate::Real;
use alloc::vec::Vec;

/// A value made of parameters: a float, an array or `Vec` of `Differentiable` values, or a
/// struct that derives it (`#[derive(backprop::Differentiable)]`).
///
/// A gradient has the shape of its parameters: the gradient with respect to a `Params` is a
/// `Params`. This trait is what optimisers, gradient checking and the flattened view of
/// Hessians need of that shape, and nothing more:
/// - [`zero_like`](Self::zero_like): the same shape, every parameter zero (a `Vec` keeps its
///   length; a field marked `#[backprop(skip)]` is cloned);
/// - [`add_scaled`](Self::add_scaled): `self += k · other`, parameter by parameter;
/// - [`for_each`](Self::for_each), [`for_each_mut`](Self::for_each_mut): every parameter in a
///   fixed order, the *flattened order*: a struct's fields in declaration order, an array's
///   elements by increasing index (row-major for nested arrays), a `Vec`'s in order.
///
/// The derive implements it field by field, skipping the fields marked `#[backprop(skip)]`
/// (counts, hyperparameters, data), which must then be `Clone`. Every other field must be
/// `Differentiable` with the same float type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a parameter type",
    label = "not a float, an array or `Vec` of parameters, or a struct deriving `Differentiable`",
    note = "in a struct deriving `Differentiable`, mark a field that is not a parameter (a count, a hyperparameter, data) `#[backprop(skip)]`"
)]
pub trait Differentiable: Sized {
    /// The float type of the parameters (`f64` or `f32`).
    type Scalar: Real;

    /// The same shape with every parameter zero; fields that are not parameters cloned.
    fn zero_like(&self) -> Self;

    /// `self += k · other`, parameter by parameter (`other` has the same shape).
    fn add_scaled(&mut self, other: &Self, k: Self::Scalar);

    /// Calls `f` with every parameter, in the flattened order.
    fn for_each<F: FnMut(Self::Scalar)>(&self, f: &mut F);

    /// Calls `f` with every parameter, mutably, in the flattened order.
    fn for_each_mut<F: FnMut(&mut Self::Scalar)>(&mut self, f: &mut F);

    /// The number of parameters.
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.for_each(&mut |_| n += 1);
        n
    }

    /// The parameters in the flattened order.
    fn to_flat(&self) -> Vec<Self::Scalar> {
        let mut out = Vec::new();
        self.for_each(&mut |x| out.push(x));
        out
    }

    /// Whether the field `field` (its name, or its position in a tuple struct) is marked
    /// `#[backprop(skip)]`: the gradient of a struct keeps such a field as `zero_like` made it.
    /// The derive writes this; no one else needs to.
    #[doc(hidden)]
    #[inline]
    fn __backprop_skips(&self, field: &str) -> bool {
        let _ = field;
        false
    }

    /// Sets the parameters from `xs`, in the flattened order.
    ///
    /// # Panics
    /// If `xs` does not hold exactly [`num_params`](Self::num_params) values.
    fn set_flat(&mut self, xs: &[Self::Scalar]) {
        let mut it = xs.iter();
        self.for_each_mut(&mut |x| {
            *x = *it
                .next()
                .expect("set_flat: fewer values than the value has parameters");
        });
        assert!(
            it.next().is_none(),
            "set_flat: more values than the value has parameters"
        );
    }
}

macro_rules! scalar {
    ($t:ty) => {
        impl Differentiable for $t {
            type Scalar = $t;
            #[inline]
            fn zero_like(&self) -> Self {
                0.0
            }
            #[inline]
            fn add_scaled(&mut self, other: &Self, k: $t) {
                *self += k * other;
            }
            #[inline]
            fn for_each<F: FnMut($t)>(&self, f: &mut F) {
                f(*self)
            }
            #[inline]
            fn for_each_mut<F: FnMut(&mut $t)>(&mut self, f: &mut F) {
                f(self)
            }
        }
    };
}
scalar!(f64);
scalar!(f32);

impl<T: Differentiable, const N: usize> Differentiable for [T; N] {
    type Scalar = T::Scalar;
    #[inline]
    fn zero_like(&self) -> Self {
        core::array::from_fn(|i| self[i].zero_like())
    }
    #[inline]
    fn add_scaled(&mut self, other: &Self, k: T::Scalar) {
        for (a, b) in self.iter_mut().zip(other) {
            a.add_scaled(b, k);
        }
    }
    #[inline]
    fn for_each<F: FnMut(T::Scalar)>(&self, f: &mut F) {
        self.iter().for_each(|x| x.for_each(f));
    }
    #[inline]
    fn for_each_mut<F: FnMut(&mut T::Scalar)>(&mut self, f: &mut F) {
        self.iter_mut().for_each(|x| x.for_each_mut(f));
    }
}

impl<T: Differentiable> Differentiable for Vec<T> {
    type Scalar = T::Scalar;
    fn zero_like(&self) -> Self {
        self.iter().map(T::zero_like).collect()
    }
    /// # Panics
    /// If the two `Vec`s differ in length.
    fn add_scaled(&mut self, other: &Self, k: T::Scalar) {
        assert_eq!(
            self.len(),
            other.len(),
            "add_scaled: a Vec of parameters and its gradient differ in length"
        );
        for (a, b) in self.iter_mut().zip(other) {
            a.add_scaled(b, k);
        }
    }
    fn for_each<F: FnMut(T::Scalar)>(&self, f: &mut F) {
        self.iter().for_each(|x| x.for_each(f));
    }
    fn for_each_mut<F: FnMut(&mut T::Scalar)>(&mut self, f: &mut F) {
        self.iter_mut().for_each(|x| x.for_each_mut(f));
    }
}

/// Gradient descent: `p ← p − lr · g`, optionally with momentum.
///
/// ```
/// use grad_runtime::Sgd;
/// let mut p = [1.0, -2.0];
/// let g = [0.5, 0.5];
/// Sgd::new(0.1).step(&mut p, &g);
/// assert_eq!(p, [0.95, -2.05]);
/// ```
#[derive(Clone, Debug)]
pub struct Sgd<S> {
    lr: f64,
    momentum: f64,
    velocity: Option<Vec<S>>,
}

impl<S: Real> Sgd<S> {
    /// Plain gradient descent with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            velocity: None,
        }
    }

    /// With momentum `mu` (`v ← mu · v + g`, `p ← p − lr · v`; `0.9` is usual).
    pub fn with_momentum(mut self, mu: f64) -> Self {
        self.momentum = mu;
        self
    }

    /// One step along `-grad`.
    ///
    /// # Panics
    /// If `grad` has another number of parameters than `params`, or than at the first step.
    pub fn step<P: Differentiable<Scalar = S>>(&mut self, params: &mut P, grad: &P) {
        let lr = S::from_f64(self.lr);
        if self.momentum == 0.0 {
            params.add_scaled(grad, -lr);
            return;
        }
        let mu = S::from_f64(self.momentum);
        let v = self
            .velocity
            .get_or_insert_with(|| alloc::vec![S::ZERO; grad.num_params()]);
        let mut k = 0;
        grad.for_each(&mut |g| {
            v[k] = mu * v[k] + g;
            k += 1;
        });
        assert_eq!(k, v.len(), "Sgd::step: the gradient changed size");
        let mut k = 0;
        params.for_each_mut(&mut |p| {
            *p -= lr * v[k];
            k += 1;
        });
        assert_eq!(
            k,
            v.len(),
            "Sgd::step: parameters and gradient differ in size"
        );
    }
}

/// Adam (Kingma & Ba, 2015): per-parameter steps from running means of the gradient and of its
/// square, bias-corrected.
///
/// ```
/// use grad_runtime::Adam;
/// let mut p = [1.0_f64, -2.0];
/// let mut adam = Adam::new(0.1);
/// for _ in 0..3 {
///     let g = [2.0 * p[0], 2.0 * p[1]]; // of p₀² + p₁²
///     adam.step(&mut p, &g);
/// }
/// assert!(p[0].abs() < 1.0 && p[1].abs() < 2.0);
/// ```
#[derive(Clone, Debug)]
pub struct Adam<S> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    t: i32,
    m: Vec<S>,
    v: Vec<S>,
}

impl<S: Real> Adam<S> {
    /// Learning rate `lr`, with β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Other decay rates of the two running means.
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Another ε (added to the root of the second moment).
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// One step.
    ///
    /// # Panics
    /// If `grad` has another number of parameters than `params`, or than at the first step.
    pub fn step<P: Differentiable<Scalar = S>>(&mut self, params: &mut P, grad: &P) {
        if self.t == 0 {
            let n = grad.num_params();
            self.m = alloc::vec![S::ZERO; n];
            self.v = alloc::vec![S::ZERO; n];
        }
        self.t = self.t.saturating_add(1);
        let (b1, b2) = (S::from_f64(self.beta1), S::from_f64(self.beta2));
        let (c1, c2) = (S::from_f64(1.0 - self.beta1), S::from_f64(1.0 - self.beta2));
        let (m, v) = (&mut self.m, &mut self.v);
        let mut k = 0;
        grad.for_each(&mut |g| {
            m[k] = b1 * m[k] + c1 * g;
            v[k] = b2 * v[k] + c2 * g * g;
            k += 1;
        });
        assert_eq!(k, m.len(), "Adam::step: the gradient changed size");
        // Bias corrections folded into the step size and ε.
        let bc1 = 1.0 - self.beta1.powi(self.t);
        let bc2 = 1.0 - self.beta2.powi(self.t);
        let step = S::from_f64(self.lr * bc2.sqrt() / bc1);
        let eps = S::from_f64(self.eps * bc2.sqrt());
        let mut k = 0;
        params.for_each_mut(&mut |p| {
            *p -= step * m[k] / (v[k].sqrt() + eps);
            k += 1;
        });
        assert_eq!(
            k,
            m.len(),
            "Adam::step: parameters and gradient differ in size"
        );
    }
}

/// `acc += Σ a[..] · b[..]` over the parameters of two values of one shape (what generated code
/// needs of a struct passed whole to a `#[grad]` function; see the derive).
#[doc(hidden)]
pub fn dot_params<P: Differentiable>(a: &P, b: &P, acc: &mut P::Scalar) {
    let b = b.to_flat();
    let mut k = 0;
    a.for_each(&mut |x| {
        *acc += x * b[k];
        k += 1;
    });
}

/// Compiles only if `A` and `B` are the same float type: every parameter of a struct deriving
/// `Differentiable` has the first one's.
#[doc(hidden)]
#[inline(always)]
pub fn same_float<A: SameFloat<B>, B>() {}

#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the parameters of a struct deriving `Differentiable` are of one float type: this field's are `{Self}`, the first field's `{T}`",
    label = "parameters of another float type",
    note = "make the field's floats the first field's type, or mark the field `#[backprop(skip)]` if it is not a parameter"
)]
pub trait SameFloat<T> {}
impl SameFloat<f64> for f64 {}
impl SameFloat<f32> for f32 {}

/// `field += k · other` for a field of a struct deriving `Differentiable`, `k` of the struct's
/// float type (converted to the field's: the same type when the struct is right).
#[doc(hidden)]
#[inline(always)]
pub fn field_add_scaled<T: Differentiable, S: Real>(field: &mut T, other: &T, k: S) {
    field.add_scaled(other, T::Scalar::from_f64(k.to_f64()));
}

/// `Differentiable::for_each` over a field, its floats converted to the struct's type.
#[doc(hidden)]
#[inline(always)]
pub fn field_for_each<T: Differentiable, S: Real, F: FnMut(S)>(field: &T, f: &mut F) {
    field.for_each(&mut |x| f(S::from_f64(x.to_f64())));
}

/// `Differentiable::for_each_mut` over a field, its floats converted to the struct's type and
/// back.
#[doc(hidden)]
#[inline(always)]
pub fn field_for_each_mut<T: Differentiable, S: Real, F: FnMut(&mut S)>(field: &mut T, f: &mut F) {
    field.for_each_mut(&mut |x| {
        let mut y = S::from_f64(x.to_f64());
        f(&mut y);
        *x = T::Scalar::from_f64(y.to_f64());
    });
}

/// Makes `dir` the unit direction along its flat index `k` (1 there, 0 elsewhere; all zeros
/// when `k` is past its end): what `_hessian` passes to `_hvp`, and a forward-mode `_grad` to
/// `_jvp`, for a `wrt` parameter whose size is known at run time (a struct, a `Vec`).
#[doc(hidden)]
#[inline]
pub fn unit_along<P: Differentiable>(dir: &mut P, k: usize) {
    let mut i = 0;
    dir.for_each_mut(&mut |x| {
        *x = if i == k {
            P::Scalar::ONE
        } else {
            P::Scalar::ZERO
        };
        i += 1;
    });
}

/// Appends `g`'s parameters to `out`, in the flattened order (a row of a Hessian or Jacobian).
#[doc(hidden)]
#[inline]
pub fn extend_flat<P: Differentiable>(out: &mut Vec<P::Scalar>, g: &P) {
    g.for_each(&mut |x| out.push(x));
}

/// A value shaped like `like`, its parameters `xs` in the flattened order.
#[doc(hidden)]
#[inline]
pub fn shaped_from_flat<P: Differentiable>(like: &P, xs: &[P::Scalar]) -> P {
    let mut out = like.zero_like();
    out.set_flat(xs);
    out
}
