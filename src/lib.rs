//! Exact gradients of scalar Rust functions, generated at compile time.
//!
//! Put `#[grad(wrt = ...)]` on a function written in plain scalar math (loops over your data
//! included) and you get companion functions that return its derivatives: exact (up to
//! floating-point rounding), with no runtime tape and no dual numbers. The macro applies the chain rule to your code once,
//! at compile time, and writes out the reverse-mode gradient a careful person would write by
//! hand.
//!
//! ```
//! use backprop::grad;
//!
//! /// Binary cross-entropy of a logistic model with one feature.
//! #[grad(wrt = b0, b1)]
//! fn bce(b0: f64, b1: f64, x: f64, y: f64) -> f64 {
//!     let p = 1.0 / (1.0 + (-(b0 + b1 * x)).exp());
//!     -y * p.ln() - (1.0 - y) * (1.0 - p).ln()
//! }
//!
//! let (d_b0, d_b1) = bce_grad(0.3, -1.2, 2.0, 1.0); // ∂bce/∂b0, ∂bce/∂b1
//! let (loss, (g0, g1)) = bce_value_and_grad(0.3, -1.2, 2.0, 1.0);
//!
//! // The closed form: ∂bce/∂b0 = p − y, ∂bce/∂b1 = (p − y)·x.
//! let p = 1.0 / (1.0 + (-(0.3 - 1.2 * 2.0_f64)).exp());
//! assert!((d_b0 - (p - 1.0)).abs() < 1e-15);
//! assert!((d_b1 - (p - 1.0) * 2.0).abs() < 1e-15);
//! assert_eq!((g0, g1), (d_b0, d_b1));
//! assert_eq!(loss, bce(0.3, -1.2, 2.0, 1.0)); // bit for bit
//! ```
//!
//! # What you get
//!
//! For `#[grad(wrt = a, b, ...)] fn name(params) -> T`, next to the unchanged `name`:
//!
//! | companion | returns |
//! |---|---|
//! | `name_grad(params)` | the gradient in `wrt` order: `T` for one parameter, `(T, T, ...)` for several |
//! | `name_value_and_grad(params)` | `(name(params), gradient)`, from one pass |
//!
//! - The companions take the same parameters as `name`, have its visibility, carry a doc
//!   comment, and are `#[must_use]`. They raise no warnings (also under `#![deny(warnings)]`
//!   and clippy's defaults) whether you use them or not.
//! - `T` is `f64` or `f32`. A `wrt` parameter has type `T`, or is an array, slice or `Vec` of
//!   `T`, and its derivative has the same shape: `T` for `T`, `[T; N]` for `[T; N]` or
//!   `&[T; N]`, `[[T; M]; N]` for `[[T; M]; N]`, `Vec<T>` (of the slice's length) for `&[T]`,
//!   `Vec<T>` or `&Vec<T>`, `Vec<[T; M]>` for `&[[T; M]]`. A `Vec` is differentiated as the
//!   slice it holds (in reverse mode: forward mode and `hessian` need lengths known at compile
//!   time). An `f32` function gets `f32` gradients, computed in `f32`. A struct deriving
//!   `Differentiable` (`p: Params`, `p: &Params`, or `self`) gets a gradient of its own type:
//!   see [Parameters in structs](#parameters-in-structs).
//! - Every parameter not named in `wrt` is data: any type (`usize`, `&[f64]`, a struct), passed
//!   through untouched, with no derivative.
//! - The value `name_value_and_grad` returns is computed by the same operations in the same
//!   order as `name`, so it is equal to `name(..)` bit for bit. (One caveat that is Rust's,
//!   not ours: the precision of `powi` and of the transcendental functions is unspecified, and
//!   the optimiser may constant-fold a call whose arguments it knows, for example `name(2.0)`
//!   inlined, to a result one ulp away from the run-time one; a few ulps after the operations
//!   that follow, as the reliability runs met once in a generic function's `powi`.)
//!
//! # How it differentiates: the derivation, as generated
//!
//! Reverse mode, as in the lecture notes on backpropagation: the body runs forward as you wrote
//! it, with a `let` for each intermediate value the backward pass needs (`t0`, `t1`, … or your
//! own names: the rows of the ξ table that are read again), then the adjoints (`d_p` = ∂bce/∂p)
//! are accumulated backwards, each intermediate's local derivative multiplied in once; where a
//! value is used several times (fan-out) its contributions are added. For `bce` above,
//! `cargo expand` shows the following (this listing is the expansion itself, checked by the
//! macro's tests):
//!
//! - `p` keeps its name;
//! - the chain rule gives ∂bce/∂p = (1 − y)/(1 − p) − y/p, then ∂p/∂h = p²·e^−h for
//!   h = b0 + b1·x;
//! - the product is simplified as derivative code is built: 1 − p counts as p·e^−h for this
//!   `p` wherever those factors then cancel, factors that appear above and below a fraction
//!   cancel, terms with a common factor are collected, and p·(1 + e^−h) is 1. What is left is `t0` = ∂bce/∂b0 = `p - y`, the notes'
//!   result, with no division but the one computing `p`;
//! - `d_b1 = t0 * x`.
//!
//! `bce_grad` has a copy of the body of its own, without the two `ln` only the value needs. A
//! `_grad` gets one when the value alone costs a twentieth of the work or more; otherwise it
//! calls `_value_and_grad` and drops the value, which keeps the generated code small.
//!
#![doc = concat!("```text\n", include_str!("../tests/expand/bce.rs"), "```")]
//!
//! Nothing is computed for a value the gradient does not depend on (a symbolic zero), no
//! `0.0 * x` or `x * 1.0` appears, a subexpression needed twice is computed once, and local
//! derivatives reuse the values already computed where that is cheaper and more stable:
//! `exp` reuses its result, `tanh` is `1 − t²`, `sqrt` is `0.5 / r`, [`sigmoid`] is `s(1 − s)`.
//!
//! Derivative code (never the value) is simplified with identities that hold in exact
//! arithmetic and save work: factors that cancel in a product or quotient, a product
//! distributed over a sum when a term then cancels, terms with a common factor collected,
//! `d / (1 / u)` as `d · u`, literal factors folded where one is a power of two, a factor every
//! term of a loop's sum shares applied once after the loop. The gradient can therefore differ
//! from a term-by-term evaluation of the chain rule in the last bits, and is finite in places
//! where that evaluation overflows (a cross-entropy whose `p` rounds to 1). Where a rewritten
//! sum's terms are near the largest float, collecting them can overflow where the terms
//! separately did not.
//!
//! **The order of a gradient's sums.** A sum over data in derivative code (`d_w += r * x` for
//! each point of a mean squared error) is written in four lanes, so that the processor can
//! overlap its additions instead of waiting for each before the next: in an innermost `for`
//! loop whose adjoints are only added to, item `j` adds into lane `j % 4`, and after the loop
//! the sum gets `(lane 0 + lane 1) + (lane 2 + lane 3)`. The order is fixed by the source, not
//! by the optimiser or the processor: the same inputs give the same bits on every run and
//! machine, and `_grad`, `_value_and_grad` and the pullback callers use give the same bits
//! (the other companions, `_hessian`, `_jacobian`, `_trace`, ..., keep their sums in order).
//! The function's own value, and the value `_value_and_grad` returns, add their terms in the
//! order you wrote. Rounding: each lane adds a quarter of the terms, so the rounding error of
//! a long sum is usually smaller than term by term, never larger than its bound, and the result
//! differs from a term-by-term sum in the last bits (over 1,000 terms of a mean squared error,
//! about 1e-15 relative). Near the largest float, lanes can overflow where the term-by-term sum
//! did not, or the other way round: terms `1e308, −1e308, 0, 0, 1e308, −1e308, ..` cancel one
//! by one, but the lanes hold `+∞` and `−∞` and their sum is NaN (`ordered_sums` avoids it).
//! A loop is kept as written when lanes would not shorten anything: a
//! `while` or `loop`, a loop containing a loop, a body of more than a few dozen operations, or
//! an adjoint carried otherwise (a recurrence's sweep, `d_h = w · d_h · ..`).
//!
//! When a gradient must add its terms in the order of the iterations (to compare it bit for bit
//! with a hand-written loop, or to reproduce results computed before lanes), say
//! `ordered_sums`:
//!
//! ```
//! use backprop::grad;
//!
//! #[grad(wrt = w, ordered_sums)]
//! fn sse(w: f64, xs: &[f64], ys: &[f64]) -> f64 {
//!     let mut s = 0.0;
//!     for (x, y) in xs.iter().zip(ys) {
//!         s += (w * x - y).powi(2);
//!     }
//!     s
//! }
//!
//! let xs = [0.5, 1.5, -2.0, 3.0, 0.25];
//! let ys = [1.0, 2.0, -3.5, 6.5, 0.0];
//! let mut by_hand = 0.0;
//! for (x, y) in xs.iter().zip(&ys) {
//!     by_hand += (1.3 * x - y) * x;
//! }
//! assert_eq!(sse_grad(1.3, &xs, &ys), 2.0 * by_hand);
//! ```
//!
//! Over slices of your parameters (`for (x, y) in xs.iter().zip(ys)`, `for x in &xs`, `for
//! x in xs` with `xs` a reference, forwards or as the reverse sweep walks them), the items are
//! taken four at a time (`chunks_exact(4)`), the same items into the same lanes, so that the
//! optimiser can compute the four lanes with vector instructions: the mean squared error's
//! gradient takes about 0.4 of the time of the term-by-term loop (`BENCHMARKS.md`). Over any
//! other iterator the lanes take the items one at a time; the additions still overlap. Where
//! each point costs an `exp` or a `ln` (a Poisson regression, a mixture's likelihood), the
//! additions were never the bottleneck and lanes change little. For data, prefer a slice per
//! quantity (`xs: &[f64], ys: &[f64]`) or rows of a fixed size (`&[[f64; 4]]`) passed as
//! parameters: those are chunked and vectorise best; a slice of structs is chunked too, and
//! vectorises as far as the optimiser can gather the fields the loop reads.
//!
//! Read your own function's expansion with `cargo expand` (from the `cargo-expand` crate):
//! `cargo expand --lib path::to::module` or `cargo expand --example name`.
//!
//! # The language of a `#[grad]` body
//!
//! - `let x = ...;`, `let x: f64 = ...;`, `let _ = ...;`, shadowing, `let mut` with `=`, `+=`,
//!   `-=`, `*=`, `/=`, `%=`; nested blocks `{ ... }` as expressions; parentheses; unary `-`;
//!   `+ - * / %`. A type annotation is kept as written (`let a: f32 = 0.1;` rounds to `f32` as
//!   in your function); a differentiated value may be stored only in the function's float type,
//!   or in an integer or `bool` (a step: derivative 0).
//! - Float literals, integer data cast with `as` (`n as f64`), paths to constants
//!   (`std::f64::consts::PI`, your own `const`s, also `const`s declared in the body).
//! - `let (a, b) = (x * x, 2.0 * x);`: a tuple of values destructured (nested too), every
//!   value computed before any name is bound, so `let (a, b) = (b, a + b);` reads the old `a`
//!   and `b`.
//! - `if` / `else if` / `else`, as expressions and as statements (assigning variables in the
//!   branches). A condition has no derivative, so it may be any `bool` expression: comparisons,
//!   `&&`, `||`, `!`, `bool` data, `x.is_nan()`, `x.total_cmp(&y).is_lt()`, your own predicates
//!   of data; it is kept as written, so `&&` and `||` still short-circuit. A function of yours
//!   given a differentiated value in a condition must be a `#[grad]` function (see "Where a
//!   differentiated value may go"). Only the branch taken contributes to the gradient: a NaN
//!   or infinity in the branch not taken never reaches it.
//! - Calls to the functions below, and any expression over data only (integer arithmetic,
//!   fields, indexing, your own functions called on data): those are passed through as
//!   written.
//! - Calls to other `#[grad]` functions and to functions with a `#[backprop::rule]`, with
//!   differentiated arguments: see "Composition" below.
//!
//! - Loops, arrays, `break`, `continue`, early `return` and `match`: see the next section.
//!
//! Closures (other than in `.map(..)` and `.fold(..)`, below), macros and `unsafe` are
//! rejected with an error at the offending token. (Functions generic over their float type, or
//! over data, are supported: see "Generic functions".) A call that passes a
//! differentiated value to a function that has neither `#[grad]` nor `#[backprop::rule]` fails at
//! that call, with a message that says to give it one:
//!
//! ```compile_fail
//! use backprop::grad;
//!
//! fn my_activation(x: f64) -> f64 { x.max(0.1 * x) }
//!
//! #[grad(wrt = w)]
//! fn f(w: f64) -> f64 {
//!     my_activation(w) // error: the function called here is not a #[grad] function
//! }
//! # fn main() {}
//! ```
//!
//! # Loops, arrays, early return and `match`
//!
//! Losses summed over a dataset are written as you would write them anyway:
//!
//! ```
//! use backprop::grad;
//!
//! /// Mean squared error of a linear model with a weight vector.
//! #[grad(wrt = w, b)]
//! fn mse(w: [f64; 2], b: f64, xs: &[[f64; 2]], ys: &[f64]) -> f64 {
//!     let mut loss = 0.0;
//!     for (x, y) in xs.iter().zip(ys) {
//!         let pred = w.iter().zip(x).map(|(wi, xi)| wi * xi).sum::<f64>() + b;
//!         loss += (pred - y).powi(2);
//!     }
//!     loss / xs.len() as f64
//! }
//!
//! let xs = [[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]];
//! let ys = [3.0, 0.5, 2.5];
//! let (dw, db): ([f64; 2], f64) = mse_grad([0.4, 0.3], 0.1, &xs, &ys);
//! // ∂/∂b = (2/n) Σ (pred − y)
//! let r: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| 0.4 * x[0] + 0.3 * x[1] + 0.1 - y).collect();
//! assert!((db - 2.0 * r.iter().sum::<f64>() / 3.0).abs() < 1e-12);
//! assert!((dw[0] - 2.0 * (r[0] * 1.0 + r[1] * 0.5 + r[2] * 2.0) / 3.0).abs() < 1e-12);
//! ```
//!
//! What is supported:
//!
//! - `for` over `a..b`, `a..=b`, `(a..b).rev()`, and over slices and arrays: `xs.iter()`, `&xs`,
//!   `xs` (an array by value), with `.zip(..)`, `.enumerate()`, `.rev()`, `.copied()`, and any
//!   other iterator over data (see the cost note below for which must run backwards); nested
//!   loops; `while`; `loop`; `break` and `continue` (of the innermost loop); `return` anywhere
//!   (inside loops and branches too).
//! - Indexing: `w[i]`, `w[i][j]`, with any integer index expression; `w.len()`. The rows of a
//!   matrix can be iterated by name: `for (k, row) in w.iter().enumerate()`, then `row[j]` or
//!   `row.iter().zip(x)`.
//! - Arrays of floats declared in the body, `let mut z = [0.0; 3];`, `[[0.0; 4]; 3]` or
//!   `[a, b, c]`, written element by element (`z[i] = ..`, `+=`, `-=`, `*=`, `/=`) and read
//!   later (see the restriction below).
//! - `xs.iter().map(|x| ..).sum::<f64>()`, `.product()`, `.fold(init, |acc, x| ..)`, also after
//!   several `.map(..)`: the closure becomes the body of a loop.
//! - References to a differentiated float: `let r = &x;` then `*r` (or `r.sin()`), `x` a
//!   parameter declared a float or a value the function computed (arithmetic, an `if`'s or a
//!   loop's value, an array's element): while the reference lives
//!   `x` cannot change, so it is `x`'s value. A local `&mut` alias, `let a = &mut t;` then
//!   `*a *= 3.0`, `a[i] = ..`, `a.sin()`, `f(a)`: while `a` lives nothing else may touch `t`,
//!   so `*a` is `t` (an alias used otherwise, bound again or returned, is refused at the
//!   `&mut`). A `wrt` parameter taken as `&f64` is differentiated as its value: read as `*x`,
//!   bare in arithmetic (`x * y`), passed on (`g(x)`); its companions (`_grad`, `_trace`, ..)
//!   take the value (`f_grad(2.0, ..)`), and a caller passes `&v` of a differentiated `v`. Of a call's result
//!   or a struct's field (which may be an array of a type the macro does not see): refused,
//!   each with what to write.
//! - `const fn`: its `_grad` and `_value_and_grad` are `const fn` too when their code is
//!   arithmetic, `let` and `if` (no call, loop or method), so a gradient can be a constant:
//!   `const G: (f64, f64) = f_grad(2.0, 0.5);`. Otherwise they are plain functions (rustc's
//!   E0015 at your `const` says so).
//! - Local closures: `let sq = |v: f64| v * v;` then `sq(a) + sq(b)`. Each call is the
//!   closure's body, inlined, its parameters given the call's arguments (differentiated or
//!   data); the other names it reads are what they were where it was written (a later `let` of
//!   the same name does not reach it; a `move` closure reads the copy of a float it made).
//!   Closures may call closures, take several parameters, and have a block with `let`s and
//!   `if`s for body. Refused, each with what to write instead: a closure passed on, stored or
//!   returned (only its calls are inlined); one that assigns a variable from outside it (its
//!   change would be lost: return the new value); a `move` closure capturing an array; a
//!   parameter that is a pattern, a reference or an array; in its body, `return`, a `&mut`,
//!   or a `for` loop or an iterator's sum that reads the closure's parameters (write those in
//!   the function's body, or make the closure a `#[grad]` function); a call where the macro keeps code as written (a condition,
//!   an index, a loop's bounds: bind the call's value with `let` first). A closure in any other
//!   position (an argument of your own function) is refused: bind it to a name.
//! - Out-parameters: a `#[grad]` function may write one `&mut` float or array of floats of a
//!   length written as a number, and return nothing (`fn update(acc: &mut f64, x: f64) { *acc
//!   += x * x; }`). It is differentiated as the function from the parameter's value before the
//!   call to its value after: its pullback takes the value and gives the new one, and with
//!   `wrt` its companions take that parameter by value (`update_grad(acc, x)` is
//!   `(∂acc′/∂acc, ∂acc′/∂x)`; an array's, several outputs, gets `_jacobian` instead, a row
//!   per element written). List the parameter in `wrt`, or use `#[grad]` alone, for a caller
//!   to differentiate through it. A caller lends a float or an array of floats, or an element of one, in a
//!   statement of its own, `update(&mut s, w);`, in loops too: the statement is `s = update(s,
//!   w)`, a call like any other. In the function, the parameter is read and written as `*acc`
//!   (an element `acc[i]`, a method `acc.sin()`), and passed on as `&mut *acc`. Refused, each
//!   at its token with what to write instead: a second `&mut` float parameter, a `&mut` slice
//!   (a length known at run time only), returning a value as well, returning a reference
//!   (`-> &mut f64`; nor may a caller write through one a plain function returned,
//!   `*at(&mut v, i) += x`: write the element itself), and any other use of the
//!   reference itself (bound to another name, captured by a closure, its name bound again). A
//!   caller's float is one the macro can tell: a parameter of a float or array type, or a `let`
//!   with the type written or a float literal, an array, arithmetic, a float method or an
//!   element of such values for value (`let mut s: f64 = g(w);` where it cannot tell).
//!   A plain function (not `#[grad]`) may write a float that holds data only: it is called as
//!   written, on a copy. A `&mut` of data (`calls: &mut usize`) is not an output: the body
//!   may pass it on to a function that changes it (`bump(calls)`), not assign through it.
//!
//!   ```
//!   use backprop::grad;
//!
//!   #[grad(wrt = acc, x)]
//!   fn update(acc: &mut f64, x: f64) {
//!       *acc += x * x;
//!   }
//!
//!   #[grad]
//!   fn scale(v: &mut [f64; 3], k: f64) {
//!       for i in 0..3 {
//!           v[i] *= k;
//!       }
//!   }
//!
//!   #[grad(wrt = w)]
//!   fn loss(w: f64, xs: &[f64]) -> f64 {
//!       let mut s = 0.0;
//!       for x in xs {
//!           update(&mut s, x * w);
//!       }
//!       let mut a = [w, 1.0, s];
//!       scale(&mut a, w);
//!       a[0] + a[2]
//!   }
//!
//!   // s = w² Σ x², a = [w², w, w³ Σ x²]: ∂/∂w = 2w + 3w² Σ x².
//!   assert_eq!(loss_grad(2.0, &[1.0, 3.0]), 4.0 + 12.0 * 10.0);
//!   assert_eq!(update_grad(1.0, 3.0), (1.0, 6.0));
//!   ```
//! - `match` on data (integers, `bool`, enums, references to them, with bindings and guards)
//!   whose arms give floats; it becomes `if ::core::matches!(..)` chains. A `match` on a
//!   differentiated value is refused: compare with `if` instead.
//! - Data passes through untouched: `xs.len() as f64`, index arithmetic, integer counters, a
//!   slice of data re-sliced as it is consumed (`let mut xs = xs; .. xs = &xs[1..];`),
//!   comparisons of data, data changed in place (`let mut v = xs.to_vec();
//!   v.sort_by(f64::total_cmp);`: a closure is allowed only in the positions above).
//!
//! **What a loop costs.** The reverse sweep runs the loop's iterations again: each iteration's
//! intermediate values are recomputed from the values the loop carries from one iteration to
//! the next, not stored. So
//!
//! - a loop that only accumulates (`loss += ..`, also into a local array with `+=`) stores
//!   nothing and allocates nothing: the gradient costs about three times the function (the
//!   function, then each iteration recomputed and differentiated). Its reverse sweep visits the
//!   iterations in their own order, so any iterator works (a `HashMap`, `zip(1..)`,
//!   `chars().enumerate()`). When the sweep needs nothing the loop computes (a mean squared
//!   error: `d_loss = 1 / n` is known before it), it runs inside the loop itself, one pass over
//!   the data, and a factor every term of an accumulated adjoint shares (`2 / n`) is applied
//!   once, after the loop: `d_w += r * x` then `2.0 * t0 * d_w`, as you would write it. (A
//!   consequence at one edge: over an empty dataset that gives `inf · 0 = NaN`, where summing
//!   term by term gave 0; the loss itself is `0 / 0 = NaN` there.);
//! - a loop with other carried state (a recurrence `h = (w * h + x).tanh()`, a running
//!   product, a counter a later iteration reads, an element overwritten with `=`) is swept last
//!   iteration first, so its iterator must run backwards (`DoubleEndedIterator`, as ranges,
//!   slices, arrays, `zip` and `enumerate` of them do), and it keeps exactly those carried
//!   values, one entry per iteration: on the stack when the trip count is a literal of at most
//!   1024 (a range with literal bounds, an array of literal length), else in a `Vec` allocated
//!   once before the loop with the trip count as capacity (a `while` loop, whose trip count is
//!   unknown, grows it; a loop inside another loop reuses one allocation for all its runs). That is `k · n` values for `k` carried values over `n` iterations,
//!   never one entry per operation.
//!
//! A call on data in a loop's body (`rng.next_f64()`, your own function) runs once, in the
//! forward loop, as in your function: what the reverse sweep needs of its result is kept with
//! the carried values. (A call whose result the reverse sweep needs must then be at the top of
//! the body, not inside a branch or an inner loop; the macro says so.) Calls known to have no
//! side effects (the functions above, conversions, `len`) are simply computed again. The
//! iterated expression (`xs.iter().zip(ys)`) is evaluated again by the reverse sweep, so it must
//! not have side effects.
//!
//! # Arrays as values and array state
//!
//! An array of floats of a fixed length is a value, as in Rust: `let mut u = u0;` copies it,
//! `u = un;` and `u = [0.0; 20];` write it whole (also in `if` branches and loops), and a
//! parameter of data may be copied into an array that then holds differentiated values
//! (`let mut z = *base;`). A loop may read and write the same array, in place (`z[i] =
//! f(z[i - 1])`, sweeps that update a grid) or double-buffered (a time loop carrying a state
//! vector: a heat equation, a vector RNN, RK4 with an array state):
//!
//! ```
//! use backprop::grad;
//!
//! #[grad(wrt = kappa, u0)]
//! fn heat(kappa: f64, u0: [f64; 8], target: &[f64; 8]) -> f64 {
//!     let mut u = u0;
//!     for _ in 0..50 {
//!         let mut un = u;
//!         for i in 1..7 {
//!             un[i] = u[i] + kappa * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
//!         }
//!         u = un;
//!     }
//!     (0..8).map(|i| (u[i] - target[i]).powi(2)).sum()
//! }
//!
//! let (d_kappa, d_u0) = heat_grad(0.5, [0.0, 1.0, 2.0, 1.0, 0.0, 0.5, 0.2, 0.0], &[0.3; 8]);
//! # let _ = (d_kappa, d_u0);
//! ```
//!
//! How the reverse sweep sees an array as it was: the sweep recomputes a loop's iterations after
//! the function has run, so what a loop reads of an array that changes later is kept by the
//! forward pass, and only that. A loop that writes an array and reads it only by element reads
//! at the top of its body keeps the values it read (one float per read per iteration: a prefix
//! recurrence in place keeps one). A loop that reads it otherwise (in an inner loop, a branch,
//! a copy) keeps the whole array as each iteration entered it, and the sweep's iteration starts
//! from that copy (the heat equation above keeps 8 floats per step, what a hand-written adjoint
//! keeps). A loop that only reads an array that code after it writes reads a copy made before
//! it. This storage is on the stack while it stays under 8,192 floats for a literal trip count,
//! otherwise one heap allocation before the loop; it grows with the trip count.
//!
//! What the sweep needs that the forward pass left in an array is read back rather than
//! computed again, in three cases: an activation a loop stored in its own element (`h[i] =
//! z.tanh();` in `for i in a..b`, the loop's only write to `h`, nothing writing `h` after the
//! loop: the sweep reads `h[i]` for `tanh`'s derivative); the new state of a time loop (`h =
//! hn;` at the end of the body: iteration `t`'s `hn` is the state iteration `t + 1` was kept
//! with, the last one's the array after the loop); and, in a loop whose reverse is fused with
//! it (a loss summed over samples), the arrays the iteration built. So a vector RNN or an MLP
//! over a data set computes each `tanh` once, as a hand-written adjoint does. Where one of
//! these conditions fails (the array written again after the loop, an element written twice,
//! iterations over listed positions), the sweep computes the values again from what it kept:
//! the same gradient, at the cost of a second evaluation.
//!
//! A sweep that adds into an array at several offsets of its counter, as a stencil's does
//! (`for i in a..b` adding into `d_u[i - 1]`, `d_u[i]` and `d_u[i + 1]`), is split into one loop
//! per offset, each of which vectorises; the rest of the sweep follows. Each element receives
//! the same additions in the same order, so the gradient is the same to the bit. It is split
//! only where that is plain: offsets written `i + c`, the array touched by nothing else in the
//! loop, and what each addition needs a few operations (`+`, `−`, `×`, loads) that can be
//! recomputed, with no branch, inner loop or call in the body (the heat equation above: its
//! gradient then costs about 0.9 of a hand-written adjoint's, which adds one element at a
//! time).
//!
//! **Long loops: `checkpoint`.** `#[grad(wrt = .., checkpoint)]` bounds that storage: each
//! outermost `for` loop over a half-open range (`for t in 0..steps`, `a..b` of any integer
//! type) whose body has no `break` of its own runs as about √T segments of about √T
//! iterations. The forward pass keeps what the loop carries once per segment; the reverse
//! sweep, segment by segment from the last, runs the segment's iterations forward again from
//! what it kept (keeping each iteration's state, for that segment only), then sweeps them
//! back. Storage falls from T entries to about 2√T (a heat equation of 20 cells over 10,000
//! steps: from 1.6 MB to about 33 kB), for about one more forward pass of the loop (measured
//! in BENCHMARKS.md). The gradient is the same (the same operations in the same order, up to
//! the association of sums across segments). Other loops, `mode = forward` and the function
//! itself are unchanged; `checkpoint` on a function without such a loop does nothing.
//!
//! An array may also be the value of an `if` (`let z = if c { u } else { [a, b] };`) or of a
//! block (`let q = { let mut t = z; t[0] *= 2.0; t };`), and be passed to and returned from
//! other `#[grad]` functions (see the composition section below).
//!
//! What stays unsupported, each with a compile error at the token: labelled loops and
//! `break 'label`, `break` with a value, `while let`, `if let` and `let ... else`; iterating a
//! differentiated array in reverse or through adaptors other than `.zip`/`.enumerate`/`.copied`
//! (index it instead); copying a slice (its length is known only at run time) or slicing an
//! array of floats; and assigning an element of an array of data. A loop with
//! carried state over an iterator
//! that cannot run backwards (a `HashMap`, `chars().enumerate()`) is refused by rustc, at the
//! iterator, with `DoubleEndedIterator` in the message.
//!
//! # Differentiable functions
//!
//! These methods of `f64`/`f32` (every one of std's with a derivative), in method form
//! (`x.exp()`) or path form (`f64::exp(x)`), with respect to every float argument:
//!
//! | group | functions | local derivative used |
//! |---|---|---|
//! | exponentials | `exp`, `exp2`, `exp_m1` | `eˣ` (the result), `2ˣ·ln 2`, result + 1 |
//! | logarithms | `ln`, `log(base)`, `log2`, `log10`, `ln_1p` | `1/x`, `1/(x ln b)` and `−log_b x /(b ln b)`, `1/(x ln 2)`, `1/(x ln 10)`, `1/(1 + x)` |
//! | powers | `sqrt`, `cbrt`, `recip`, `powi(n)`, `powf(p)` | `0.5/√x`, `1/(3∛x²)`, `−1/x²`, `n·xⁿ⁻¹`, `p·xᵖ⁻¹` and `xᵖ ln x` |
//! | | `hypot(y)`, `mul_add(a, b)`, `midpoint(b)` | `x/h`, `y/h`; `a`, `x`, `1`; `½`, `½` |
//! | signs and remainders | `copysign(s)`, `rem_euclid(m)`, `div_euclid(m)`, the operator `%` | `±1` and 0; 1 and `−div_euclid(x, m)`; 0 (a step); 1 and `−trunc(x/y)` |
//! | trigonometry | `sin`, `cos`, `tan`, `asin`, `acos`, `atan`, `atan2(x)` | `cos`, `−sin`, `1 + tan²`, `±1/√(1−x²)`, `1/(1+x²)`, `x/(x²+y²)` and `−y/(x²+y²)` |
//! | hyperbolic | `sinh`, `cosh`, `tanh`, `asinh`, `acosh`, `atanh` | `cosh`, `sinh`, `1 − tanh²`, `1/√(x²+1)`, `1/√(x²−1)`, `1/(1−x²)` |
//! | angles | `to_radians`, `to_degrees` | `π/180`, `180/π` |
//! | kinks and steps | `abs`, `min`, `max`, `clamp`, `signum`, `floor`, `ceil`, `round`, `round_ties_even`, `trunc`, `fract` | see the conventions below; `fract` has derivative 1 |
//!
//! `powi`'s exponent may be any integer expression (`x.powi(n + 1)` with `n: i32` data).
//!
//! And the helpers of this crate, called as `backprop::sigmoid(z)` or as `sigmoid(z)` after
//! `use backprop::sigmoid;`: [`sigmoid`], [`relu`], [`leaky_relu`], [`softplus`],
//! [`log_sigmoid`]. (If you call your own function of the same name on a differentiated value,
//! the build fails at that call rather than differentiating it with the wrong rule.)
//!
//! # Composition: calls, building blocks, rules and methods
//!
//! A `#[grad]` function may call another `#[grad]` function, in the same module, in another
//! module (`layers::dense(..)`, or `dense(..)` after `use layers::dense;`) or in another crate,
//! and the gradient flows through the call. No body crosses the call: every `#[grad]` function
//! also gets a *pullback*, which returns its value and its partial derivative with respect to
//! each parameter, and the caller's reverse sweep multiplies the adjoint of the call's result
//! by each partial. A value passed to several calls collects the sum, as any value used twice.
//!
//! A function that is only a building block takes `#[grad]` without `wrt`: it is
//! differentiated with respect to every scalar parameter of its return type (arrays and slices
//! are its data), and it gets only the pullback.
//!
//! ```
//! use backprop::grad;
//!
//! mod layers {
//!     use backprop::grad;
//!
//!     #[grad]
//!     pub fn dense(w0: f64, w1: f64, b: f64, x0: f64, x1: f64) -> f64 {
//!         w0 * x0 + w1 * x1 + b
//!     }
//!
//!     #[grad]
//!     pub fn activation(z: f64) -> f64 {
//!         backprop::sigmoid(z)
//!     }
//! }
//!
//! use layers::activation;
//!
//! #[grad]
//! fn squared_error(p: f64, y: f64) -> f64 {
//!     (p - y) * (p - y)
//! }
//!
//! #[grad(wrt = w0, w1, b)]
//! fn loss(w0: f64, w1: f64, b: f64, x0: f64, x1: f64, y: f64) -> f64 {
//!     let p = activation(layers::dense(w0, w1, b, x0, x1));
//!     squared_error(p, y)
//! }
//!
//! let (dw0, dw1, db) = loss_grad(0.5, -0.3, 0.1, 1.0, 2.0, 1.0);
//! // By hand: p = σ(z), ∂loss/∂z = 2 (p − y) p (1 − p), and ∂z/∂w0 = x0, ∂z/∂w1 = x1, ∂z/∂b = 1.
//! let p = backprop::sigmoid(0.5 * 1.0 - 0.3 * 2.0 + 0.1);
//! let dz = 2.0 * (p - 1.0) * p * (1.0 - p);
//! assert!((dw0 - dz).abs() < 1e-15 && (dw1 - 2.0 * dz).abs() < 1e-15 && (db - dz).abs() < 1e-15);
//! ```
//!
//! What the pullback is, and what a call may pass:
//! - `f::pullback(args)` returns `(f(args), (∂f/∂a, ∂f/∂b, ...))`, one entry per parameter,
//!   `()` for a parameter `f` is not differentiated in. It is an associated function of a
//!   hidden struct that shares the function's name (a struct with braces lives in the type
//!   namespace only), which is why importing `f` brings it along. For a method `f` it is the
//!   method `f_pullback`, with `()` for `self`.
//! - A differentiated value may be passed only to a parameter the callee is differentiated in:
//!   passing one to another parameter of a `#[grad(wrt = ..)]` function fails at that argument,
//!   and says to add the parameter to the callee's `wrt`. Data goes anywhere.
//! - Arrays of floats are passed whole, by value or by reference (`f(w)`, `f(&w)`, 2-D too):
//!   the pullback's partial for such a parameter is an array of its shape, which the caller's
//!   sweep scales by the call's adjoint and adds into the array's adjoint (in forward mode, it
//!   is dotted with the array's tangent).
//! - A function returning an array of floats (`fn rhs(s: [f64; 2], k: &[f64; 4]) -> [f64; 2]`,
//!   its body ending in an array literal) is a building block too: besides its Jacobian
//!   (below), its pullback returns the value and, for each parameter in `wrt`, its block of the
//!   Jacobian (`[A; M]` for a parameter of shape `A`: row `i` the gradient of element `i`). A
//!   caller writes `let k1 = rhs(s, &k);` and indexes `k1` (or writes its type, `let k1: [f64;
//!   2] = ..`, which it must where `k1` is only copied or passed on): the sweep pulls `k1`'s
//!   adjoint back through each block. Computing the blocks costs what the callee's Jacobian
//!   costs (one sweep per element returned, or one pass per parameter element, whichever is
//!   fewer), once per call: a helper returning a few values, as a right-hand side of an ODE
//!   does, is cheap; one returning a long array is better written inline.
//! - Recursion works (the pullback calls itself, down the same branches); so do calls in any
//!   loop, branch or nested loop.
//! - A called function is taken to compute its value and nothing else: the reverse sweep of a
//!   loop recomputes what it needs, calls included, so a side effect in a callee (printing,
//!   drawing a random number) may happen again. Keep callees pure; draw random numbers in the
//!   caller.
//! - A generic callee may be called with its type arguments written (`f::<T>(x)`) or inferred.
//! - Names: next to a free function `f`, `#[grad]` declares the hidden struct `f {}` that holds
//!   its pullback. It takes the name `f` in the type namespace, so a module or type named `f`
//!   in the same module conflicts with it (rustc: "the name `f` is defined multiple times"):
//!   rename one of them. (A function named like a primitive type, `fn f64(..)`, gets no
//!   pullback: the struct would shadow the type.) In the companions' bodies, callees are
//!   imported under names that start with `__grad_`, so no name of yours is shadowed.
//! - A function of yours named like one of this crate's helpers (`sigmoid`, `relu`,
//!   `leaky_relu`, `softplus`, `log_sigmoid`) and called by that bare name is taken for the
//!   helper (the build then fails at the call, in
//!   `__private::called_function_must_be_the_grad_helper`): call it by its path
//!   (`act::sigmoid(z)`).
//!
//! ## Derivative rules: `#[backprop::rule]`
//!
//! For a function whose body should not (or cannot) be differentiated: a numerically stable
//! formula, a function from another crate, a known closed form. One attribute, one partial per
//! float parameter (of the return type), each an expression of the parameters and of the
//! result, `y` (or another name, with `result = name`). The function is left as written, and
//! gets the pullback that callers use. The macro checks the rule at compile time: a missing
//! partial, a name that is not a parameter, a partial for data, a partial given twice, are
//! errors at the rule.
//!
//! ```
//! use backprop::grad;
//!
//! /// ln(e^a + e^b), computed without overflow; its gradient is the softmax.
//! #[backprop::rule(a = (a - y).exp(), b = (b - y).exp())]
//! fn logsumexp(a: f64, b: f64) -> f64 {
//!     let m = a.max(b);
//!     m + ((a - m).exp() + (b - m).exp()).ln()
//! }
//!
//! #[grad(wrt = a, b)]
//! fn nll(a: f64, b: f64) -> f64 {
//!     logsumexp(a, b) - a
//! }
//!
//! let (da, db) = nll_grad(1000.0, 999.0); // e^1000 would overflow
//! let s = 1.0 + (-1.0f64).exp();
//! assert!((da - (1.0 / s - 1.0)).abs() < 1e-12 && (db - (-1.0f64).exp() / s).abs() < 1e-12);
//! ```
//!
//! `examples/custom_rules.rs` also wraps `libm::erf`, a function from another crate.
//!
//! The partials are evaluated after the function is called with the same arguments: data the
//! function takes by value is moved by then, so take it by reference (`&[f64]`, `&Data`) if a
//! partial reads it. A rule gives a partial for every float parameter (there is no `wrt`): give
//! `0.0` for a float that is really a constant.
//!
//! A parameter that is an array of floats (`v: [f64; 3]`, `v: &[f64; 3]`, nested arrays too)
//! may have a partial as well: an array of its shape, the gradient with respect to each
//! element. Without one the array is data, and passing a differentiated array there stops the
//! build at the call. A rule's function returns a float; an array-valued function is written
//! with `#[grad]`, which gives it a pullback from its body.
//!
//! ```
//! use backprop::grad;
//!
//! /// The Euclidean norm, with its gradient `v / ‖v‖` given by the rule.
//! #[backprop::rule(v = [v[0] / y, v[1] / y, v[2] / y])]
//! fn norm(v: &[f64; 3]) -> f64 {
//!     v.iter().map(|x| x * x).sum::<f64>().sqrt()
//! }
//!
//! #[grad(wrt = w)]
//! fn radius(w: [f64; 3]) -> f64 {
//!     2.0 * norm(&w)
//! }
//!
//! let g = radius_grad([3.0, 0.0, 4.0]);
//! assert_eq!(g, [1.2, 0.0, 1.6]);
//! ```
//!
//! ## Methods
//!
//! `#[grad]` applies to methods of an inherent `impl` block: `self` (by reference or by value)
//! is data, passed through to the companions, which are methods too (`model.loss_grad(w, b)`).
//! A model can own its hyperparameters and its data, and a method can call another
//! `#[grad]` method of data (`self.penalty(w)`) or an associated function by path
//! (`Self::f(..)`, `Model::f(..)`).
//!
//! ```
//! use backprop::grad;
//!
//! struct Ridge { lambda: f64, xs: Vec<f64>, ys: Vec<f64> }
//!
//! impl Ridge {
//!     #[grad(wrt = w)]
//!     fn penalty(&self, w: f64) -> f64 {
//!         self.lambda * w * w
//!     }
//!
//!     #[grad(wrt = w, b)]
//!     fn loss(&self, w: f64, b: f64) -> f64 {
//!         let mut s = 0.0;
//!         for (x, y) in self.xs.iter().zip(&self.ys) {
//!             s += (w * x + b - y) * (w * x + b - y);
//!         }
//!         s + self.penalty(w)
//!     }
//! }
//!
//! let m = Ridge { lambda: 0.5, xs: vec![1.0, 2.0], ys: vec![2.0, 4.0] };
//! assert_eq!(m.loss_grad(2.0, 0.0), (2.0, 0.0)); // the fit is exact: only the penalty pulls
//! ```
//!
//! Design choices, and what is not supported:
//! - The struct's fields are data, unless `wrt` lists `self`: then the struct derives
//!   [`Differentiable`](trait@Differentiable) and the gradient is a `Self` (see "Parameters in
//!   structs").
//! - The attribute sees the function, not the `impl`: it takes a function with a `self`
//!   parameter, or whose signature names `Self`, as an associated function, and any other as a
//!   free function. An associated function with neither fails to build (rustc reports that a
//!   struct is not allowed in an `impl`): give it a `self` parameter, write `Self` in its
//!   signature, or make it a free function.
//! - Trait `impl`s and trait methods are not supported (the companions are not trait items).
//!
//! # Parameters in structs
//!
//! Models keep their parameters in structs. `#[derive(Differentiable)]` gives a struct what
//! a gradient of its shape needs ([`Differentiable`](trait@Differentiable)): a zero of the same
//! shape, `self += k · other`, and every parameter in a fixed *flattened order* (fields in
//! declaration order, arrays by increasing index, row-major when nested, `Vec`s in order). A
//! field is a parameter if it is a float, an array or `Vec` of parameters, or a struct that
//! derives `Differentiable`, all of one float type; mark anything else (counts,
//! hyperparameters, data) `#[backprop(skip)]`: it is cloned into a zero and never updated. A
//! field that is neither is refused at its type, with a note saying to skip it.
//!
//! The optimisers [`Sgd`] (with optional momentum) and [`Adam`] update any `Differentiable`
//! value (a float, an array, a `Vec`, a struct) from a gradient of the same shape:
//!
//! ```
//! use backprop::{grad, Adam, Differentiable};
//!
//! #[derive(Clone, Debug, Differentiable)]
//! struct Line {
//!     w: f64,
//!     b: f64,
//!     #[backprop(skip)]
//!     epochs: usize,
//! }
//!
//! #[grad(wrt = w, b)]
//! fn mse(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
//!     let mut s = 0.0;
//!     for i in 0..xs.len() {
//!         s += (w * xs[i] + b - ys[i]).powi(2);
//!     }
//!     s / xs.len() as f64
//! }
//!
//! let (xs, ys) = ([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 7.0]);
//! let mut line = Line { w: 0.0, b: 0.0, epochs: 0 };
//! let mut adam = Adam::new(0.05);
//! for _ in 0..2000 {
//!     let (dw, db) = mse_grad(line.w, line.b, &xs, &ys);
//!     let g = Line { w: dw, b: db, ..line.zero_like() };
//!     adam.step(&mut line, &g);
//!     line.epochs += 1;
//! }
//! assert!((line.w - 2.0).abs() < 1e-3 && (line.b - 1.0).abs() < 1e-3);
//! assert_eq!(line.num_params(), 2);
//! ```
//!
//! **A struct as a `wrt` parameter.** `#[grad(wrt = p)]` with `p: Params`, `p: &Params` or
//! `p: &mut Params` that the body only reads (and `wrt = self` in a method taking `&self`, or
//! `&mut self` that it only reads)
//! differentiates with respect to every field the body reads as a number, and the gradient is a
//! `Params` (a `Self`):
//!
//! ```
//! use backprop::{grad, Adam, Differentiable};
//!
//! #[derive(Clone, Debug, Differentiable)]
//! struct Layer {
//!     w: [[f64; 2]; 3],
//!     b: [f64; 3],
//! }
//!
//! #[derive(Clone, Debug, Differentiable)]
//! struct Model {
//!     hidden: Layer,
//!     out: Vec<f64>,
//!     #[backprop(skip)]
//!     n_inputs: usize,
//! }
//!
//! #[grad(wrt = p)]
//! fn loss(p: &Model, xs: &[[f64; 2]], ys: &[f64]) -> f64 {
//!     let mut total = 0.0;
//!     for n in 0..xs.len() {
//!         let mut o = 0.0;
//!         for i in 0..3 {
//!             let mut z = p.hidden.b[i];
//!             for j in 0..p.n_inputs {
//!                 z += p.hidden.w[i][j] * xs[n][j];
//!             }
//!             o += p.out[i] * z.tanh();
//!         }
//!         total += (o - ys[n]).powi(2);
//!     }
//!     total / xs.len() as f64
//! }
//!
//! let mut p = Model {
//!     hidden: Layer { w: [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], b: [0.0; 3] },
//!     out: vec![0.5, -0.5, 0.25],
//!     n_inputs: 2,
//! };
//! let (xs, ys) = ([[1.0, 2.0], [-0.5, 0.3]], [0.5, -0.2]);
//! let g: Model = loss_grad(&p, &xs, &ys);
//! assert_eq!(g.num_params(), 12);
//! let mut adam = Adam::new(0.01);
//! adam.step(&mut p, &g);
//! ```
//!
//! How the macro learns the fields, since it cannot see the struct's definition: from how the
//! body reads them.
//! - A field path (`p.b`, `p.hidden.w`) that the body indexes (`p.hidden.w[i][j]`, as many
//!   indices as it uses) or iterates (`p.out.iter()`) is an array or `Vec` of parameters, and
//!   so is one copied whole into a local that is indexed or iterated (`let mut u = p.u0; ..
//!   u[i] ..`) or whose array type is written (`let u: [f64; 20] = p.u0;`); any other path read
//!   as a value is a float (an array taken for one is refused by the build, at the field,
//!   saying to write its type). `p.w.len()` and `p.w.is_empty()` read the shape only and may
//!   stand anywhere (`for i in 0..p.w.len()`, `p.w.len() as f64`). Each becomes a parameter of the
//!   analysis, bound at the top of the companions (`&p.hidden.w`, `p.b`), so a struct-held
//!   model costs what the same model with separate parameters costs: its gradient is the same
//!   to the bit (`tests/params.rs`; `cargo bench --bench params` in BENCHMARKS.md).
//! - A path read only as data (an index, a cast's operand, a range bound, `powi`'s exponent:
//!   `0..p.n_inputs`, `xs[p.order[i]]`, `p.n as f64`, `x.powi(p.n)`) is left as it is and must
//!   be an integer, `bool` or `char` (or an array or `Vec` of them): the build checks it, and
//!   refuses a float read there, whose derivative would be lost.
//! - A path read where its value only decides (a comparison's or a logical operator's operand,
//!   a `match` scrutinee, an `if` or `while` condition: `p.mode == 0`, `match p.k`, `if p.on`,
//!   `x > 0.0 || p.on`) is left as it is, whatever its type: no derivative goes through a
//!   decision. A float read there and also as a number elsewhere is differentiated there.
//! - A field whose elements the body reads (`p.w[i]`, `p.w.iter()`) must have exactly as many
//!   dimensions as the body gives it: the build checks it at the field. Index a nested array
//!   down to its numbers (`p.w[i][j]`), or copy it into a local with its type written (`let w:
//!   [[f64; 3]; 2] = p.w;`) and iterate that; its rows, taken whole from the field (`for row
//!   in p.w.iter()`), are refused, as they would be read as numbers.
//! - The gradient is `zero_like(p)` with each field the body read set to its derivative; a
//!   field the body does not read has derivative zero, and a field marked `#[backprop(skip)]`
//!   keeps its clone even when the body reads it as a number (a penalty's weight: its
//!   derivative is computed and dropped).
//! - rustc checks the rest, at the field in your code: a field read as a float that is an
//!   array (or the reverse) is a type error there.
//!
//! - Passing a field to a `#[grad]` function works as passing an array or a float does
//!   (`helper(&p.w)`, `sq(p.b)`). Passing the struct itself (`inner(p)`, `inner(&p)`) to a
//!   `#[grad]` function differentiated with respect to it (`#[grad(wrt = p)] fn inner(p: &Params,
//!   ..)`) adds the callee's gradient, a `Params`, into the caller's; the derive writes the
//!   element-wise arithmetic this needs, and the struct must be `Clone`.
//!
//! Refused, each with an error at the token that says what to write instead: the struct used
//! whole other than as a call's argument (a method called on it, matched, copied), a field
//! written, a reference to a field bound to a name (`let v = &p.w;`), the name bound again in
//! the body, the name in a macro's arguments, a field read both as data and as a number, a
//! path used whole and through its fields, a field of an element of an array or `Vec` of
//! structs (`p.layers[l].w`: the derive accepts such a field, for the optimisers, but a body
//! cannot differentiate through it yet), `wrt = p.w` (write `wrt = p`), a method that writes
//! `self` with `wrt = self`, and the struct passed to a function that is not `#[grad]`.
//!
//! **Forward mode, second order and Jacobians over a struct.** `mode = forward`, `hessian`
//! and Jacobians work with structs in `wrt`, alone or beside other parameters (floats, arrays,
//! slices, `Vec`s, other structs), over the parameters in the *flattened order*: the `wrt`
//! parameters in order, each in the order of [`Differentiable`](trait@Differentiable) (fields
//! in declaration order, arrays row-major). The number of parameters is known at run time only
//! (`num_params()`), so matrices are `Vec`s of rows:
//! - `name_jvp(.., p_dot, t_dot)`: the value and the derivative along a direction of each
//!   `wrt` parameter's type (a struct for the struct); with `mode = forward`, `_grad` and
//!   `_value_and_grad` call it once per parameter, along unit directions, and return the
//!   gradient in its usual shape (a struct for the struct);
//! - `name_hvp(.., p_v, t_v)`: the Hessian times a direction of the same kind, in the shape of
//!   the gradient;
//! - `name_hessian(..)`: a `Vec<Vec<_>>`, `N × N` over the `N` flattened parameters, one `_hvp`
//!   per row, exactly symmetric (the upper triangle mirrored);
//! - a function returning several values gets `name_jacobian(..)` and
//!   `name_value_and_jacobian(..)` with a `Vec` of `M` rows, each the gradient of a value
//!   flattened: reverse mode, one sweep per value, or with `mode = forward` one pass per
//!   parameter.
//!
//! A skipped field's direction is zero whatever the direction struct holds there. A struct
//! taken by value is cloned for each `_jvp`/`_hvp` call; other parameters are passed again and
//! must be `Copy`, as with arrays. A function returning an array is a building block here too:
//! its pullback gives, per parameter, a block shaped like the parameter's gradient (`[P; M]`
//! for a struct `P`, `[Vec<f64>; M]` for a slice), so a `#[grad]` function may pass a struct
//! or a slice to it, in reverse and forward mode. Not supported with a struct in `wrt`:
//! `trace` and `graph` (pass the fields as parameters of their own).
//!
//! ```
//! use backprop::{grad, Differentiable};
//!
//! #[derive(Clone, Debug, Differentiable)]
//! struct Pair {
//!     w: [f64; 2],
//!     b: f64,
//! }
//!
//! #[grad(wrt = p, t, hessian)]
//! fn f(p: &Pair, t: f64) -> f64 {
//!     p.w[0] * p.w[1] * t + p.b * t * t
//! }
//!
//! let p = Pair { w: [2.0, 3.0], b: 0.5 };
//! // Over (w[0], w[1], b, t).
//! let h = f_hessian(&p, 1.0);
//! assert_eq!(h[0], vec![0.0, 1.0, 0.0, 3.0]);
//! assert_eq!(h[3], vec![3.0, 2.0, 2.0, 1.0]);
//! let (hp, ht) = f_hvp(&p, 1.0, &Pair { w: [0.0; 2], b: 0.0 }, 1.0);
//! assert_eq!((hp.w, hp.b, ht), ([3.0, 2.0], 2.0, 1.0));
//! ```
//!
//! **Data parallelism.** A struct-shaped gradient sums with `add_scaled`, so a data set's
//! gradient can be computed in chunks on several threads and summed: `examples/
//! parallel_gradient.rs` does it with rayon (`par_chunks`, then `reduce` with `add_scaled`),
//! and `examples/mlp_iris.rs` trains a struct-held network on Iris with [`Adam`].
//!
//! # Generic functions: one model for `f32` and `f64`
//!
//! A function generic over its float type is differentiated once, for both types:
//! `fn f<T: Real>(..) -> T` gets companions generic in the same way (`f_grad::<f32>`,
//! `f_grad::<f64>`, inferred from the arguments), and each instance is the code written for
//! its type, at the same speed. [`Real`] is the bound: it has every method of `f32`/`f64` the
//! derivative table knows, under the same names (`x.exp()`, `x.powi(2)`, `a.max(b)`,
//! `T::sin(x)`), and the operators and assignments.
//!
//! - **Constants** are written `T::from_f64(c)` (or `T::ZERO`, `T::ONE`): the macro reads a
//!   literal `c` there as it reads `2.0` in a function of `f64`. For `f32`, `c` is rounded
//!   once, from its `f64` value (which, for a decimal literal, may differ in the last bit of
//!   `f32` from the literal `c_f32` written directly: the `f64` value is rounded to `f32`, not
//!   the decimal). Anywhere else a literal is an `f64`, as Rust infers it (`let k = 2.5;` is
//!   data, for `T::from_f64(k)`), so `x * 2.0` is an error at the literal that says to write
//!   `T::from_f64(2.0)`. `T::from_f64(k as f64)` converts data; a value that depends on a
//!   `wrt` parameter cannot go through `f64` (`T::from_f64(x.to_f64())` is refused: it would
//!   cut the derivative).
//! - **Constants in derivative code** are computed by the macro only where `f32` and `f64`
//!   agree exactly (`2.0 · 0.5`, not `0.1 · 3.0`); the others are left for each instance to
//!   compute in its own type, as the function does.
//! - **Everything else works as for a concrete type**: loops, arrays (`[T; N]`, `&[T]`,
//!   `Vec<T>`), structs generic over the float type (`Line<T>`, deriving `Differentiable`),
//!   calls of other `#[grad]` functions (generic or not, `f(x)` or `f::<T>(x)`), rules
//!   generic over the float type (`#[backprop::rule(x = T::from_f64(2.0) * x)] fn
//!   f<T: Real>(x: T) -> T`, second derivatives through them too), forward mode, `hessian`,
//!   Jacobians, `trace` and `graph`. The methods are also reachable by the trait's path
//!   (`T::exp(x)`, `Real::exp(x)`).
//! - **Methods of a generic `impl`**: the float type parameter is declared by the `impl`,
//!   where the macro cannot see its bound; name it with `float = T`.
//! - **Data may be generic too**: type parameters used for data only (`k: K` with
//!   `K: Into<f64>`) and const parameters (`w: [f64; N]`, `for i in 0..N`). One float type per
//!   function: a second `U: Real` is refused.
//!
//! `examples/precision.rs` fits the notes' logistic regression by Newton's method with one
//! generic loss, in `f32` and in `f64` side by side: the gradient's norm stops near `1e-7` in
//! `f32` and near `1e-16` in `f64`, at the same fit.
//!
//! ```
//! use backprop::{grad, Differentiable, Real};
//!
//! /// The logistic loss over a data set, at any float width.
//! #[grad(wrt = w, b, hessian)]
//! fn logistic<T: Real>(w: [T; 2], b: T, xs: &[[T; 2]], ys: &[T]) -> T {
//!     let mut l = T::ZERO;
//!     for i in 0..ys.len() {
//!         let p = backprop::sigmoid(w[0] * xs[i][0] + w[1] * xs[i][1] + b);
//!         l -= ys[i] * p.ln() + (T::ONE - ys[i]) * (T::ONE - p).ln();
//!     }
//!     l / T::from_f64(ys.len() as f64)
//! }
//!
//! let (xs, ys) = ([[0.5, 1.0], [-1.0, 0.25]], [1.0, 0.0]);
//! let (gw, gb) = logistic_grad([0.0, 0.0], 0.0, &xs, &ys); // f64
//! let (gw32, gb32) = logistic_grad([0.0_f32, 0.0], 0.0, &[[0.5, 1.0], [-1.0, 0.25]], &[1.0, 0.0]);
//! // At w = 0, b = 0: p = 1/2, so the gradient is the mean of (1/2 − y)(x, 1).
//! assert_eq!((gw, gb), ([-0.375, -0.1875], 0.0));
//! assert_eq!((gw32, gb32), ([-0.375_f32, -0.1875], 0.0));
//! assert_eq!(logistic_hessian([0.0, 0.0], 0.0, &xs, &ys)[2][2], 0.25);
//!
//! /// Parameters in a generic struct, and a method of its generic `impl`.
//! #[derive(Clone, Debug, Differentiable)]
//! struct Line<T> {
//!     w: T,
//!     b: T,
//! }
//!
//! impl<T: Real> Line<T> {
//!     #[grad(wrt = self, float = T)]
//!     fn loss(&self, x: T, y: T) -> T {
//!         (self.w * x + self.b - y).powi(2)
//!     }
//! }
//!
//! let g = Line { w: 2.0_f32, b: 0.0 }.loss_grad(1.0, 1.0);
//! assert_eq!((g.w, g.b), (2.0, 2.0));
//! ```
//!
//! # Forward mode and second derivatives
//!
//! The lecture notes run the chain rule both ways: forward, carrying `dξ/dW` up the table
//! with each value, and reverse, storing the values and multiplying back. Reverse mode (the
//! default) costs one pass for the whole gradient; forward mode costs one pass per direction,
//! but keeps nothing: each value's tangent is computed with it. Both read the same table of
//! derivative rules.
//!
//! - `#[grad(wrt = a, b, mode = forward)]` generates the same `_grad` and `_value_and_grad`,
//!   computed in forward mode (one pass carrying a tangent per `wrt` parameter), and
//!   `<name>_jvp(<its parameters>, a_dot, b_dot) -> (value, directional derivative)`: the
//!   derivative along the tangent `(a_dot, b_dot)`, in one pass, for the cost of about two
//!   evaluations of the function, whatever the number of parameters.
//! - `#[grad(wrt = a, b, hessian)]` adds `<name>_hessian(<its parameters>) -> [[T; N]; N]`
//!   (`h[i][j] = ∂²f/∂wᵢ∂wⱼ`, in `wrt` order) and `<name>_hvp(<its parameters>, a_v, b_v)`,
//!   the Hessian-vector product `H·v`, in the shape of the gradient, without forming `H`.
//!   Both are forward mode over the reverse-mode gradient: the Hessian carries `N` tangents
//!   through the gradient's code (about `N` gradients' worth of arithmetic, in one pass, and
//!   no storage beyond what the gradient keeps), `_hvp` one (about two gradients). Each entry above the diagonal is computed
//!   once and mirrored, so the matrix is exactly symmetric.
//!
//! ```
//! use backprop::grad;
//!
//! #[grad(wrt = x, y, mode = forward, hessian)]
//! fn rosenbrock(x: f64, y: f64) -> f64 {
//!     (1.0 - x) * (1.0 - x) + 100.0 * (y - x * x) * (y - x * x)
//! }
//!
//! let (value, slope) = rosenbrock_jvp(1.0, 2.0, 1.0, 0.0); // along x
//! assert_eq!((value, slope), (100.0, -400.0));
//! assert_eq!(rosenbrock_grad(1.0, 2.0), (-400.0, 200.0));
//! assert_eq!(rosenbrock_hessian(1.0, 2.0), [[402.0, -400.0], [-400.0, 200.0]]);
//! assert_eq!(rosenbrock_hvp(1.0, 2.0, 1.0, 1.0), (2.0, -200.0));
//! ```
//!
//! `examples/newton.rs` fits the notes' logistic regression by Newton's method with
//! `_grad` and `_hessian`: 6 iterations to a gradient of 1e-16, where gradient descent takes
//! 1,338 steps to reach 1e-10.
//!
//! ## Arrays
//!
//! A `wrt` array (`[f64; N]`, `[[f64; M]; N]`, `&[f64; N]`, with lengths that are literals or
//! constants) takes part as its elements, flattened: the `wrt` parameters in order, each array
//! row-major. `_jvp` takes a tangent shaped like each parameter and `_hvp` a vector component
//! shaped like each parameter, and `_hvp` returns the gradient's shape. `_hessian` is
//! `[[T; N]; N]` over the `N` flattened elements; it calls `_hvp` once per element (with that
//! element's unit vector) and mirrors the upper triangle, so it costs `N` Hessian-vector
//! products and is exactly symmetric. The forward-mode `_grad` calls `_jvp` once per element.
//! Arguments are passed again for each element, so the other parameters must be `Copy`
//! (numbers, arrays, shared references `&T`; not `&mut T`, not a `Vec` by value): one that is
//! not is a compile error at the parameter. A local array of differentiated values carries an array of tangents.
//!
//! ```
//! use backprop::grad;
//!
//! /// Logistic regression with two features.
//! #[grad(wrt = w, b, hessian)]
//! fn loss(w: [f64; 2], b: f64, xs: &[[f64; 2]], ys: &[f64]) -> f64 {
//!     let mut s = 0.0;
//!     for (x, y) in xs.iter().zip(ys) {
//!         let p = backprop::sigmoid(w[0] * x[0] + w[1] * x[1] + b);
//!         s -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
//!     }
//!     s
//! }
//!
//! let (xs, ys) = ([[1.0, 2.0], [-1.0, 0.5]], [1.0, 0.0]);
//! // Over (w[0], w[1], b): at w = 0, b = 0 each p(1 − p) is 1/4, so h = Σ [x, 1]ᵀ[x, 1] / 4.
//! let h = loss_hessian([0.0, 0.0], 0.0, &xs, &ys);
//! assert_eq!(h, [[0.5, 0.375, 0.0], [0.375, 1.0625, 0.625], [0.0, 0.625, 0.5]]);
//! let (hv_w, hv_b) = loss_hvp([0.0, 0.0], 0.0, &xs, &ys, [1.0, 0.0], 0.0);
//! assert_eq!((hv_w, hv_b), ([0.5, 0.375], 0.0));
//! ```
//!
//! Loops of every kind have Hessians: where the reverse sweep reads back values the loop kept
//! (a `while` loop, a recurrence `h = (w * h + x).tanh()`), their tangents are kept with them,
//! so the storage holds `1 + N` floats per value (`1 + 1` for `_hvp`).
//!
//! **Slices and `Vec`s** (`&[f64]`, `Vec<f64>`, `&Vec<f64>`) in `wrt` have lengths known at
//! run time only: with them, `_hessian` is a `Vec<Vec<_>>` (one `_hvp` per element), `_jvp`
//! and `_hvp` take a slice (a `Vec`) as its direction, `_hvp` and the forward-mode `_grad`
//! return a `Vec` for it, and a Jacobian is a `Vec` of rows, as with a struct above
//! (`tests/second_order.rs`):
//!
//! ```
//! use backprop::grad;
//!
//! #[grad(wrt = xs, hessian)]
//! fn cubes(xs: &[f64]) -> f64 {
//!     xs.iter().map(|x| x * x * x).sum()
//! }
//!
//! assert_eq!(cubes_hessian(&[1.0, 2.0]), vec![vec![6.0, 0.0], vec![0.0, 12.0]]);
//! assert_eq!(cubes_hvp(&[1.0, 2.0], &[1.0, 1.0]), vec![6.0, 12.0]);
//! ```
//!
//! **Second order through calls.** `hessian` (`_hessian`, `_hvp`) goes through calls of other
//! `#[grad]` functions and methods returning a float, of floats and of arrays of written
//! lengths (`[f64; 3]`, `&[[f64; 2]; 2]`, local arrays built from differentiated values), in
//! loops and branches too, in this crate or another (`self.f(x)` and `Self::f(self, x)`,
//! `self` data), generic ones included, and of `#[backprop::rule]` functions:
//! - a `#[grad]` callee must ask for it with `hessian` on its own attribute (`#[grad(wrt = x,
//!   hessian)]`, or `#[grad(hessian)]` for a building block): it then also generates the
//!   tangent of its pullback (forward mode over its reverse sweep, what a caller's `_hvp`
//!   calls) and its pullback with its Hessian in one pass (what a caller's `_hessian` calls,
//!   once per call whatever the number of directions, so that a Hessian through a call costs
//!   about what it costs inline: 1.1× in `cargo bench --bench second_order`). Together they
//!   cost at compile time what its own `_hessian` and `_hvp` cost, so they are not made unless
//!   asked for; a call of a callee that does not ask is a compile error at the call, saying to
//!   add it;
//! - a rule gives second derivatives for free when its partials are expressions the macro can
//!   differentiate (arithmetic and the supported functions of its float parameters and of its
//!   value `y`): they are differentiated again; a rule whose partial calls a function is a
//!   compile error at a `hessian` caller's call;
//! - a `#[grad]` function returning an array (`-> [f64; M]`, a building block whose pullback
//!   gives a Jacobian block per argument) asks for it the same way: `hessian` on it makes the
//!   tangent of its pullback (of its values and of each block, forward mode over one reverse
//!   sweep per value), which a caller's `_hessian` and `_hvp` call once per direction. It makes
//!   no Hessian of its own values (a `_jacobian` of the gradient is one per value: write a
//!   function returning each value for that);
//! - not yet: calls passing a slice, a `Vec` or a struct's array field (lengths the macro
//!   does not know there: copy the field into a typed local first), calls of methods
//!   differentiated in `self` (`wrt = self`), and calls in a branch inside a `while` loop whose
//!   result the loop keeps for its sweep (make it a `for` loop, or compute the call outside the
//!   branch): each a compile error at the call, saying what to write instead.
//!
//! ```
//! use backprop::grad;
//!
//! /// A right-hand side returning an array, asking for second order through its calls.
//! #[grad(hessian)]
//! fn rhs(s: [f64; 2], k: f64) -> [f64; 2] {
//!     [k * s[0] * s[1], s[0] * s[0]]
//! }
//!
//! /// f(a, b) = 2ab + a²: its Hessian is [[2, 2], [2, 0]].
//! #[grad(wrt = a, b, hessian)]
//! fn f(a: f64, b: f64) -> f64 {
//!     let r: [f64; 2] = rhs([a, b], 2.0);
//!     r[0] + r[1]
//! }
//!
//! assert_eq!(f_hessian(0.5, -1.5), [[2.0, 2.0], [2.0, 0.0]]);
//! assert_eq!(f_hvp(0.5, -1.5, 1.0, 1.0), (4.0, 2.0));
//! ```
//!
//! ```
//! use backprop::grad;
//!
//! /// The normal CDF's error function by its series, under a rule whose partial the macro
//! /// differentiates again.
//! #[backprop::rule(x = 2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp())]
//! fn erf(x: f64) -> f64 {
//!     let (mut sum, mut term, mut n) = (0.0, x, 0.0);
//!     while term.abs() > 1e-17 {
//!         sum += term / (2.0 * n + 1.0);
//!         n += 1.0;
//!         term *= -x * x / n;
//!     }
//!     2.0 / std::f64::consts::PI.sqrt() * sum
//! }
//!
//! /// A European call's price (Black–Scholes); its Hessian holds gamma and vanna.
//! #[grad(wrt = s, sigma, hessian)]
//! fn call(s: f64, k: f64, r: f64, sigma: f64, t: f64) -> f64 {
//!     let d1 = ((s / k).ln() + (r + 0.5 * sigma * sigma) * t) / (sigma * t.sqrt());
//!     let d2 = d1 - sigma * t.sqrt();
//!     let n1 = 0.5 * (1.0 + erf(d1 / std::f64::consts::SQRT_2));
//!     let n2 = 0.5 * (1.0 + erf(d2 / std::f64::consts::SQRT_2));
//!     s * n1 - k * (-r * t).exp() * n2
//! }
//!
//! let h = call_hessian(100.0, 95.0, 0.03, 0.2, 0.75);
//! let (gamma, vanna) = (h[0][0], h[0][1]);
//! assert!((gamma - 0.020196743051089).abs() < 1e-12);
//! assert!((vanna + 0.593716529936203).abs() < 1e-12);
//! ```

//! ## Jacobians
//!
//! A function returning several floats, `(f64, f64)` or `[f64; M]`, ending with their tuple or
//! array, gets `<name>_jacobian(<its parameters>) -> [[T; N]; M]` (a `Vec` of `M` rows when a
//! `wrt` parameter is a struct, a slice or a `Vec`, whose sizes are known at run time) and
//! `<name>_value_and_jacobian(<its parameters>) -> (<its return type>, [[T; N]; M])` (the
//! values from the same passes) in place of `_grad` and `_value_and_grad`: row `i`
//! is the gradient of the `i`-th value over the `N` scalar `wrt` values (arrays flattened in
//! `wrt` order, row-major, as above). It is computed in forward mode (one pass, a tangent per
//! parameter; with an array, one pass per element) when `N ≤ M`, in reverse mode (one sweep
//! per value) when `M < N` or `N` is a constant the macro cannot read, unless `mode = forward`
//! or `mode = reverse` says which.
//!
//! ```
//! use backprop::grad;
//!
//! #[grad(wrt = r, t)]
//! fn polar(r: f64, t: f64) -> (f64, f64) {
//!     (r * t.cos(), r * t.sin())
//! }
//!
//! let j = polar_jacobian(2.0, 0.0);
//! assert_eq!(j, [[1.0, 0.0], [0.0, 2.0]]);
//! let (xy, j) = polar_value_and_jacobian(2.0, 0.0);
//! assert_eq!(xy, (2.0, 0.0));
//! ```
//!
//! A function returning several values has no `return` (its body ends with the values). One
//! returning an array is also a building block: other `#[grad]` functions call it, and its
//! pullback gives them a block of its Jacobian per argument (`hessian` on it lets their second
//! derivatives go through it too: see "Second order through calls"); one returning a tuple
//! is not, and takes no `hessian`.
//!
//! # Seeing the derivation: tables and graphs
//!
//! The documentation of each `_grad` companion shows its derivation, as the notes do: each
//! node of the computational graph (each input, then each operation on differentiated values,
//! named as in your code or `ξ1`, `ξ2`, ...) with its local derivatives, where it is (a loop,
//! an arm of an `if`), and, for straight-line code, the formula of each gradient component the
//! chain rule gives (`∂bce/∂b1 = (p − y)·x`); for a loop or a branch, how the chain rule sums
//! over iterations and takes the arm that ran. `cargo doc --open` shows it for your crate; for
//! the examples' models, `cargo doc --example seeds --document-private-items --open`. Where it
//! is not shown (an array of differentiated values, a call passing one, parameters in a struct,
//! more than 60 operations or 40 nodes), the documentation says so and why.
//!
//! Two options show the same at run time:
//! - `trace` adds `<name>_trace(<its parameters>) -> backprop::trace::Trace`, the table with
//!   numbers: each node's value, local derivatives and accumulated derivative. It prints as a
//!   table (`Display`), and its fields give the numbers to code.
//! - `graph` adds `<name>_graph() -> &'static str`, the computational graph in Graphviz DOT,
//!   each edge labelled with its local derivative; `Trace::to_dot` draws a trace's graph with
//!   its numbers, unrolled (a node per row: each iteration's own).
//! - `backprop::trace::svg(dot)` draws either as SVG, in Rust (the `svg` feature, on by
//!   default: no Graphviz to install; the layout is `layout-rs`'s, which takes seconds past a
//!   few dozen nodes, so it draws up to 40 and says so past that), and `Trace::to_svg` a
//!   trace's (a long run a few iterations at a time: `t.only(0..3).to_svg()`). The notes' fan-out network (002), `fan_out_graph()` in
//!   `examples/seed_models`, drawn so (each node with its expression, each edge with its local
//!   derivative):
//!
#![doc = include_str!("graphs/fan_out.svg")]
//!
//! ```
//! use backprop::grad;
//!
//! #[grad(wrt = w, trace, graph)]
//! fn loss(w: f64, x: f64, y: f64) -> f64 {
//!     let p = backprop::sigmoid(w * x);
//!     -(y * p.ln())
//! }
//!
//! let t = loss_trace(3.0, 3.0, 1.0);
//! println!("{t}"); // node, expression, value, local derivatives, ∂loss/∂node
//! let p = t.node("p").unwrap();
//! assert_eq!(p.value, backprop::sigmoid(9.0));
//! assert_eq!(t.node("w").unwrap().derivative, Some(loss_grad(3.0, 3.0, 1.0)));
//! assert!(loss_graph().contains("\"p\" -> "));
//! ```
//!
//! What they show:
//! - **Loops.** A node in a loop is a row of the table at each iteration, labelled with it:
//!   `p@2` is `p` at the third iteration (counted from 0), `p@1,0` at the first iteration of an
//!   inner loop in the second of the outer one ([`Node::label`](trace::Node::label),
//!   [`Node::iteration`](trace::Node::iteration)). `t.node("p@2")` finds it, `t.node("p")`
//!   the first, `t.iterations("p")` all of them. A loop's carried value is an operand of the
//!   next iteration: in `total@2 = total + l`, the local derivative is with respect to
//!   `total@1`, the row that was `total` then (each operand is named by the row it was at run
//!   time; a constant, such as the `0.0` a sum starts from, by its value: `total (= 0)`). The
//!   graph draws a loop once, as a cluster labelled with its header (its nodes shaded, as the
//!   SVG drawing has no clusters), the edge that carries a value to the next iteration dashed.
//! - **Branches.** Of an `if` (or a `match`), the table has the nodes of the arm that ran; the
//!   graph has both arms, each node labelled with its condition. `max`, `min`, `abs`, `relu`
//!   are nodes like any operation, their local derivative that of the side taken.
//! - **Calls.** A call of another `#[grad]` function (or a `#[backprop::rule]`) of floats is a
//!   node, `a = f(z, x)`, whose local derivatives are the callee's partials from its pullback,
//!   shown `∂₁f(z, x)` (its partial in its first argument, at that call's arguments); the
//!   graph draws it as a box.
//! - **Arrays.** Data arrays are read as they are (`xs[i]` in an expression). An array
//!   parameter you differentiate is an input per element, `w[0]`, `w[1]` (`m[1][2]` for an
//!   array of arrays). An element of an array that carries derivatives is the row last written
//!   there: in `e = u[i] − y`, the operand is `v[i]@3,1` if that row's value was stored in `u`
//!   (directly or by a copy, `u = v`); a value stored without a name of its own is named by
//!   its element (`v[i]`), and `a[i] += x` is a node of its own, `a[i] = a[i] + x`. The graph
//!   draws an array as the nodes stored in it: an edge from each node an element read may be
//!   (told apart for elements written at constant indices, `a[0]`, `a[1]`), dashed when the
//!   value was written at an earlier iteration of a loop around the read. A call passing an
//!   array to another `#[grad]` function has a local derivative per element (`∂ξ4/∂w[1]`, the
//!   callee's partial from its pullback); a call returning an array is refused, at the call,
//!   with what to write instead.
//! - **Numbers.** The inputs' derivatives are `_grad`'s, to the bit (the table calls
//!   `_value_and_grad`). Each row's derivative is the reverse sweep's at that node: the sum,
//!   over the rows that use it, of their derivative times their local derivative (the chain
//!   rule: [`Trace::chain_rule`](trace::Trace::chain_rule) checks it row by row, as
//!   `tests/trace.rs` does, and the reliability generator on every program it draws with
//!   `trace`). `_grad` may take a factor that a loop's terms share out
//!   of their sum, so the inputs' rows agree with the rows that use them to rounding, not
//!   always to the bit. An `f32` function's table holds its `f32` numbers (shown widened to
//!   `f64`: `0.3000000119`), and follows the chain rule to `f32`'s rounding (about 1e-7).
//! - **Long runs.** Past 100 rows, `Display` prints the first and last 40 and says how many it
//!   left out; `{:#}` prints all, and [`Trace::only(a..b)`](trace::Trace::only) keeps the
//!   iterations `a..b` of the outermost loop. With `checkpoint`, a loop's rows are labelled by
//!   segment and step (`p@3,5`), as the loop runs.
//!
//! Each node has its own name: a name your code gives twice (shadowing, reassignment, the two
//! arms of an `if`) is primed the second time (`s`, `s′`); an iterator's sum is `Σ`.
//! `examples/trace_tables.rs` prints the notes' 001 and 004 tables, and writes the 002
//! network's graph and the summed loss's (a loop over the data) in DOT and as SVG; `cargo run
//! --example seeds` prints the loss summed over a data set, a row per point. That loss,
//! `data_set_logistic_loss_graph()` in `examples/seed_models` (each point's loss a call of the
//! per-point loss, summed into `total`), drawn so:
//!
#![doc = include_str!("graphs/summed_loss.svg")]
//!
//! The same sum written out, with a branch:
//!
//! ```
//! use backprop::grad;
//!
//! #[grad(wrt = b0, b1, trace, graph)]
//! fn summed(b0: f64, b1: f64, xs: &[f64], ys: &[f64]) -> f64 {
//!     let mut total = 0.0;
//!     for i in 0..xs.len() {
//!         let p = backprop::sigmoid(b0 + b1 * xs[i]);
//!         let l = if ys[i] > 0.5 { -p.ln() } else { -(1.0 - p).ln() };
//!         total += l;
//!     }
//!     total
//! }
//!
//! let (xs, ys) = ([2.0, 3.25, -0.5], [1.0, 0.0, 1.0]);
//! let t = summed_trace(0.3, -1.2, &xs, &ys);
//! // The second point's probability, and the sum after it.
//! assert_eq!(t.node("p@1").unwrap().value, backprop::sigmoid(0.3 - 1.2 * 3.25));
//! assert_eq!(t.node("total@1").unwrap().local[0].0, "total@0");
//! // y = 0 at the second point: its loss is the `else` arm's.
//! assert!(t.node("l@1").is_none() && t.node("l′@1").is_some());
//! let (d_b0, d_b1) = summed_grad(0.3, -1.2, &xs, &ys);
//! assert_eq!(t.node("b0").unwrap().derivative, Some(d_b0));
//! assert_eq!(t.node("b1").unwrap().derivative, Some(d_b1));
//! assert!(summed_graph().contains("subgraph cluster_0"));
//! // Each row's derivative is what the rows using it give it (the chain rule, to rounding).
//! assert!(t.chain_rule(1e-12).is_ok());
//! ```
//!
//! # Where a differentiated value may go
//!
//! A value that depends on a `wrt` parameter either flows through what the macro models, and
//! gets its true derivative, or the build fails at the token where it would leave: a gradient
//! that silently misses a path is never generated. What the macro models: arithmetic, the
//! functions of the rule table, `if`, loops, local arrays written by index, tuples of values
//! destructured with `let`, calls of `#[grad]` and `#[backprop::rule]` functions (by what they
//! return), and integers and `bool`s computed from it (a step: derivative 0). What it refuses,
//! each with its own message at the offending token:
//!
//! | the value would leave through | example | refused at | write instead |
//! |---|---|---|---|
//! | a `&mut` of a float or float-array local other than in a statement calling a function (`f(&mut out, ..);`) | `let k = g(&mut out);`, `v.push(&mut out)` | `&mut out` | `f(&mut out, ..);` with `f` a `#[grad]` function writing it (see "Out-parameters"); `out = f(x);`; `a[i] = ...` |
//! | a `&mut` of a float lent to a function without `#[grad]` with a differentiated value | `set(&mut out, x * x)` | the call (rustc, with the macro's message) | `#[grad]` on `set` |
//! | a call whose value is thrown away | `acc.add(x);`, `record(x);`, `let _ = f(x);` | the call | use what the call returns |
//! | a method that stores its argument | `v.push(x)`, `cell.set(x)`, `map.insert(k, x)`, `a.store(..)` | the method | a local array written by index |
//! | a standard-library holder or constructor | `Box::new(x)`, `Some(x)`, `Rc::new(x)`, `Point(x, y)`, `std::mem::replace(&mut a, x)` | the path | float locals |
//! | a bit pattern | `x.to_bits()`, `x.to_le_bytes()`, `f64::from_bits(..)` of it | the method | — |
//! | a method that may change a tracked local in place | `a.reverse()`, `a.fill(x)`, `s.add_assign(x)` on a float local or array | the method | assign it (`a[i] = ...`) |
//! | a method of data that is not `#[grad]` | `model.scale(x)` (`scale` without `#[grad]`) | the method (rustc: no `scale_pullback`) | put `#[grad]` on the method |
//! | a function of yours without `#[grad]`, anywhere, conditions included | `my_f(x)`, `if in_range(x)` | the call (rustc, with the macro's message) | `#[grad]` or `#[backprop::rule]` on it, or test the value inline |
//! | floats added into an integer | `let mut s = 0; s += x;` | `s` | `let mut s = 0.0;` |
//! | a closure (of `.map(..)`/`.fold(..)`, or a local one) assigning a local declared outside it | `.map(\|v\| { k += 1; v * x })`, `let mut add = \|v\| acc += v;` | the assignment | a `for` loop, or a closure returning the new value |
//! | an assignment inside an expression | `while { c += 1; c } <= 3` | the assignment | assign before, as a statement |
//! | an operator of another type | `q + x` with `q: Sq` and `impl Add<f64> for Sq` | a parameter: the operator; a local: its `let` (rustc, the companions check it is a float) | compute the float first |
//!
//! Data may still go anywhere: a `&mut` of data declared `mut` (`bump(&mut count)`,
//! `rng.next()`), a `Vec` filled with data and read back, a `Cell` of data, all pass through as
//! written (a loop variable, or data the body assigns, is a value the macro tracks: it cannot be
//! lent with `&mut`). Where a call may change data (through `&mut`, a `Cell`, a method, a
//! parameter declared `mut`) after the body reads it and before the reverse sweep, the read runs
//! once, in order, and the sweep uses what it gave: in a loop, each iteration's value is kept
//! (`for &v in xs { bump(&mut n); s += x * v * n as f64 }` is differentiated with each
//! iteration's `n`). So is a call of a `#[grad]` function given data it may change (a `&Cell`,
//! a `&mut`): it runs once per iteration, never again in the sweep. Where a value cannot be
//! kept (needed by the sweep inside a branch or an inner loop of a loop, the body of a `while`
//! among them) the build fails at the value; a loop over data that a call changes later (a
//! local, a `&mut` or `Cell` parameter, `self` in a `&mut self` method) is refused at its
//! iterable. Behind `&self` and other shared references the data is taken not to change except
//! through the calls the body makes: a `#[grad]` method called on `&self` is taken to keep
//! nothing. A `#[grad]` function keeps nothing of the differentiated values it is given, as its
//! own body is checked the same way. A call of one whose value is overwritten before any use is
//! still made, so that rustc still checks the callee.
//!
//! ```compile_fail
//! use backprop::grad;
//!
//! fn set(o: &mut f64, v: f64) { *o = v; }
//!
//! #[grad(wrt = x)]
//! fn f(x: f64) -> f64 {
//!     let mut out = 0.0;
//!     set(&mut out, x * x); // error: `set` is not a `#[grad]` function, so the gradient
//!                           // cannot go through what it writes
//!     out
//! }
//! # fn main() {}
//! ```
//!
//! ```
//! use backprop::grad;
//!
//! fn bump(n: &mut i32) { *n += 1; }
//!
//! #[grad(wrt = x)]
//! fn f(x: f64, xs: &[f64]) -> f64 {
//!     let mut positive = 0;
//!     let mut seen = Vec::new();
//!     for &v in xs {
//!         if v > 0.0 {
//!             bump(&mut positive); // data through `&mut`: passed through
//!             seen.push(v);        // data into a `Vec`: passed through
//!         }
//!     }
//!     let (a, b) = (x * seen[0], x * x); // a tuple of values: modelled
//!     a + b * positive as f64
//! }
//!
//! // 1.5·x + 2·x², at x = 2: 1.5 + 4·2 = 9.5
//! assert_eq!(f_grad(2.0, &[1.5, -1.0, 2.0]), 9.5);
//! ```
//!
//! # Conventions where the derivative does not exist
//!
//! | where | value used |
//! |---|---|
//! | `abs`, `signum`, [`relu`], `copysign`'s first argument, at 0 | 0 |
//! | [`leaky_relu`] at 0 | `slope` (the left derivative, like `relu`) |
//! | `floor`, `ceil`, `round`, `round_ties_even`, `trunc`, `div_euclid` (at their jumps too) | 0 |
//! | `min(a, b)`, `max(a, b)` with `a == b` | ½ to each (as JAX does) |
//! | `min`, `max` with one argument NaN | all to the other (whose value std returns) |
//! | `clamp(x, lo, hi)` | as `max(lo, min(x, hi))`: a tie splits evenly |
//! | `sqrt` at 0 | `+inf` (`−inf` at `−0.0`, the sign of the zero) |
//! | `x.powi(n)`, `x.powf(p)` with exponent 0 | 0, also at `x = 0` |
//! | `hypot` and `atan2` at the origin | 0 for both arguments |
//! | `powf`'s exponent partial at base 0 | 0 |
//! | an integer cast of a differentiated value (`w as i32`) | 0 |
//! | a differentiated value leaving through an effect (`&mut`, a `Vec`, a `Cell`, bits, a call whose value is thrown away) | none: a compile error at that token (see "Where a differentiated value may go") |
//! | a tuple of values destructured (`let (a, b) = (x, y);`), data through `&mut` or in a `Vec`, data a call changes in a loop | modelled: the true derivative (each iteration's data) |
//!
//! One caveat shared by every reverse-mode tool: where a local derivative is infinite (`sqrt`
//! or `cbrt` at 0, `ln` at 0) and the sensitivity it multiplies is exactly 0, the product is
//! `0 · ∞ = NaN`, although the true derivative may be finite (for example `(x − x).cbrt()`).
//!
//! ```
//! use backprop::grad;
//!
//! #[grad(wrt = a, b)]
//! fn smallest(a: f64, b: f64) -> f64 { a.min(b) }
//!
//! #[grad(wrt = x)]
//! fn magnitude(x: f64) -> f64 { x.abs() }
//!
//! assert_eq!(smallest_grad(1.0, 1.0), (0.5, 0.5));
//! assert_eq!(smallest_grad(1.0, 2.0), (1.0, 0.0));
//! assert_eq!(magnitude_grad(0.0), 0.0);
//! assert_eq!(magnitude_grad(-3.0), -1.0);
//! ```
//!
//! # Checking a gradient
//!
//! [`check::check_gradient`] compares any gradient with central finite differences:
//!
//! ```
//! use backprop::{grad, check::{check_gradient, Tolerance}};
//!
//! #[grad(wrt = x, y)]
//! fn rosenbrock(x: f64, y: f64) -> f64 {
//!     (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
//! }
//!
//! let (dx, dy) = rosenbrock_grad(-1.2, 1.0);
//! check_gradient(|v| rosenbrock(v[0], v[1]), &[-1.2, 1.0], &[dx, dy], Tolerance::default())
//!     .unwrap();
//! ```
//!
//! The check works in `f64`. Finite differences of an `f32` function are only good to about
//! `1e-3` (the step and the function's own rounding), so check an `f32` gradient against an
//! `f64` copy of the function, or with a tolerance of that order.
//!
//! # Large functions and compile time
//!
//! The attribute's work grows linearly with the body (`BENCHMARKS.md`): a 1,000-statement
//! body takes about 36 ms of rustc's time when the macro is optimised, and about 130 ms in a
//! default debug build, where Cargo compiles every macro unoptimised. For long bodies,
//! optimise macros in debug builds too:
//!
//! ```toml
//! [profile.dev.build-override]
//! opt-level = 3
//! ```
//!
//! Two limits of the compiler's stack in debug builds, both with the default 8 MiB main
//! thread:
//! - A single expression nested more than about 700 levels deep overflows the stack of the
//!   (unoptimised) parser of the macro; the optimised macro handles several thousand.
//! - rustc's debug information for nested `let` scopes overflows somewhere between 2,000 and
//!   3,000 `let`s in one function, and a companion has about three `let`s per statement of the
//!   body: a body of about 1,000 statements fails to build in debug with "rustc unexpectedly
//!   overflowed its stack". A release build works, and so do `RUST_MIN_STACK=16777216` and
//!   `debug = "line-tables-only"` under `[profile.dev]`.
//!
//! # `no_std`
//!
//! A `#![no_std]` crate with `alloc` can use `#[grad]`: generated code names nothing of `std`.
//! What it allocates (the `Vec` gradient of a slice, the rows of a `trace`) is `alloc`'s, named
//! through this crate, so the crate needs `extern crate alloc;` only if it uses those. This
//! crate itself links `std`: the float functions (`exp`, `ln`, `sin`, …) are `std`'s, and so
//! are the helpers that call them; a target without `std` cannot use it yet. The workspace
//! builds and tests such a crate (`tests/no_std`).
//!
//! # Cargo features
//!
//! One, on by default: `svg`, for [`trace::svg`] and `Trace::to_svg` (graphs drawn as SVG in
//! Rust, by the `layout-rs` crate). `default-features = false` leaves it, and its dependency,
//! out; nothing else changes.
//!
//! # A renamed dependency
//!
//! Generated code refers to this crate as `::backprop`. If you depend on it under another name,
//! say so with `crate = path`, as with serde:
//!
//! ```
//! # extern crate backprop as my_grad;
//! use my_grad::grad;
//!
//! #[grad(wrt = w, crate = my_grad)]
//! fn loss(w: f64) -> f64 { my_grad::sigmoid(w) }
//!
//! assert_eq!(loss_grad(0.0), 0.25);
//! ```
//!
//! # Names
//!
//! Every local the generated code introduces is hygienic (`Span::mixed_site`): it cannot
//! capture or shadow one of yours, whatever you call your variables (`d_x`, `t0`, `exp`, ...),
//! and the generated names are also kept textually distinct from every identifier in your
//! function, so the expansion reads unambiguously.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Generates `<name>_grad` and `<name>_value_and_grad` for a scalar function, and its
/// pullback for callers: see the [crate documentation](crate).
///
/// Arguments: `wrt = a, b, ...` (the parameters to differentiate with respect to, in the order
/// the gradient lists them; without it, the function is a building block, differentiated in
/// every float parameter, with its pullback only), `mode = forward` (forward mode, and
/// `_jvp`) or `mode = reverse` (the default; for a Jacobian, reverse whatever its shape),
/// `hessian` (`_hessian` and `_hvp`), `trace` (`_trace`), `graph` (`_graph`), `checkpoint`
/// (long loops in segments: bounded storage for one more forward pass), `ordered_sums` (a
/// loop's gradient sums term by term, not in four lanes: see "The order of a gradient's sums"
/// in the crate documentation), and `crate = path` (the path of this crate, if renamed). A
/// parameter named like an option
/// (`trace`) can be listed first in `wrt`, where it can only be a name.
// The README's example (what crates.io shows first), compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use grad_macro::grad;
/// Gives a function a derivative rule instead of differentiating its body:
/// `#[backprop::rule(a = ∂f/∂a, b = ∂f/∂b)]`, in terms of the parameters and the result `y` (or
/// `result = name`). See "Composition" in the [crate documentation](crate).
pub use grad_macro::rule;
/// Derives [`Differentiable`](trait@Differentiable) for a struct of parameters; see
/// [Parameters in structs](crate#parameters-in-structs).
pub use grad_macro::Differentiable;
pub use grad_runtime::{
    check, leaky_relu, log_sigmoid, relu, sigmoid, softplus, trace, Adam, Differentiable, Real, Sgd,
};

#[doc(hidden)]
pub use grad_runtime::__private;

// So that `::backprop::...` in generated code also resolves inside this crate's own unit tests.
extern crate self as backprop;
