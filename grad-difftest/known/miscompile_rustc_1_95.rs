// A miscompilation by rustc 1.95.0 (LLVM's machine-sink pass on x86_64, found by
// `rustc -O -C llvm-args=-opt-bisect-limit=N`): the generated reverse sweep of difftest program
// st475 (seed 1803, see TESTING.md), expanded, prints a wrong gradient at opt-level 2 and 3 and
// the right one at opt-level 1, in debug, with a print added in the forward loop, and under
// rustc 1.97.0-nightly. The code is safe Rust (the runtime forbids unsafe). Not built by the
// workspace: build it against backprop's rlib with rustc -O to see it.
// Right: (-0.24628017634427768, (0.009249601217312454, 0.0, [0.001141926272128933, 0.8880545821594752, 0.0]))
#![allow(warnings)]
pub fn va_value_and_grad(w0: f64, w1: f64, wa: [f64; 3], xs: [f64; 4], k: i32,
    flag: bool) -> (f64, (f64, f64, [f64; 3])) {
    
    let c1 = k < 3;
    let t0: f64 = if c1 { w0 } else { std::f64::consts::PI };
    let c2 = k < 3;
    let t1: f64 = if c2 { w0 } else { std::f64::consts::PI };
    let c3 =
        w0.powi((k + -1)) >=
            K.clamp((-2.25_f64), ((-2.25_f64) + ((w1 * w1) + 0.125_f64)));
    let t2: f64 = if c3 { let t3 = xs[0]; t3 } else { let t4 = k as f64; t4 };
    let c4 =
        w0.powi((k + -1)) >=
            K.clamp((-2.25_f64), ((-2.25_f64) + ((w1 * w1) + 0.125_f64)));
    let t5: f64 = if c4 { let t6 = xs[0]; t6 } else { let t7 = k as f64; t7 };
    let t8 = t1 + (t2 * t5 + 0.125);
    let v0 = w1.clamp(t0, t8);
    let mut z0 = wa;
    let mut saved =
        ::backprop::__private::Saved::for_iter(0..(k.unsigned_abs() as
                        usize));
    for i0 in 0..(k.unsigned_abs() as usize) {
        let z0_1 = z0;
        if flag { z0[2] = v0 / wa[i0 % 3]; }
        saved.push(z0_1);
    }
    let mut saved_1 =
        ::backprop::__private::Saved::for_iter(0..(k.unsigned_abs() as
                        usize));
    for _ in 0..(k.unsigned_abs() as usize) {
        let z0_2 = z0;
        let mut z1 = z0;
        for i1 in 0..5 {
            z1[i1 % 3] =
                (z0_2[((i1 % 3) + 2) % 3] *
                                        (i1 as
                                                        f64).min(wa[i1 %
                                                        3]).clamp(i1 as f64,
                                            i1 as f64 + (i1 as f64 * i1 as f64 + 0.125)) * z0_2[i1 % 3]
                                + z0_2[((i1 % 3) + 1) % 3]).tanh() * 1.2;
        }
        z0 = z1;
        saved_1.push(z0_2);
    }
    let mut t9 = <f64 as ::core::iter::Sum>::sum(::core::iter::empty());
    for &c0 in z0.iter() {
        t9 += c0 + (k as f64 * std::f64::consts::PI - k as f64);
    }
    let t10 = wa[1] / w0;
    let c5 =
        ((w1 * w1) + 0.5_f64).log2().powi(-3) <=
            ((k as
                                f64).clamp((k as f64),
                        ((k as f64) + (((k as f64) * (k as f64)) + 0.125_f64))) -
                    ((k as f64) + K).mul_add(wa[0], xs[2]));
    let t11: f64 = if c5 { t9 } else { let t12 = k as f64; t12 };
    let t13 = -2;
    let t14 = t11.powi(t13);
    let c6 =
        ((w1 * w1) + 0.5_f64).log2().powi(-3) <=
            ((k as
                                f64).clamp((k as f64),
                        ((k as f64) + (((k as f64) * (k as f64)) + 0.125_f64))) -
                    ((k as f64) + K).mul_add(wa[0], xs[2]));
    let t15: f64 = if c6 { t9 } else { let t16 = k as f64; t16 };
    let t17 = -2;
    let t18 =
        t15.powi(t17) + (std::f64::consts::PI * std::f64::consts::PI + 0.125);
    let v1 = t10.clamp(t14, t18);
    let t19 = wa[1].tanh();
    let t20 = t19 * 0.9;
    let mut d_wa = [0.0_f64; 3];
    let mut d_z0 = [0.0_f64; 3];
    d_wa[1] += 0.9 * (1.0 / ((1.0 - t20) * (1.0 + t20))) * (1.0 - t19 * t19);
    let t21 = t10.min(t18);
    let t22 =
        if t21 > t14 {
            1.0
        } else if t21 == t14 {
            0.5
        } else if t14.is_nan() { 1.0 } else { 0.0 };
    let t23 = 0.5 * t22;
    let t24 = 0.5 * w0;
    let t25 =
        if t21 > t14 {
            w0
        } else if t21 == t14 { t24 } else if t14.is_nan() { w0 } else { 0.0 };
    let d_t10 =
        if t10 < t18 {
            t25
        } else {
            w0 *
                (if t10 == t18 {
                        t23
                    } else if t18.is_nan() { t22 } else { 0.0 })
        };
    let t26 = (t17 as f64);
    let t27 = i32::wrapping_sub(t17, 1);
    let d_t15 =
        (if t18 < t10 {
                    t25
                } else {
                    w0 *
                        (if t18 == t10 {
                                t23
                            } else if t10.is_nan() { t22 } else { 0.0 })
                }) * (if t17 == 0 { 0.0 } else { t26 * t15.powi(t27) });
    let d_t9: f64 = if c6 { d_t15 } else { 0.0 };
    let t28 = (t13 as f64);
    let t29 = i32::wrapping_sub(t13, 1);
    let d_t11 =
        (if t14 > t21 {
                    w0
                } else if t14 == t21 {
                    t24
                } else if t21.is_nan() { w0 } else { 0.0 }) *
            (if t13 == 0 { 0.0 } else { t28 * t11.powi(t29) });
    let d_t9_1: f64 = if c5 { d_t11 } else { 0.0 };
    d_wa[1] += d_t10 / w0;
    let d_t9_2 = d_t9 + d_t9_1;
    for (pos, &_) in ::backprop::__private::enumerate(z0.iter()) {
        d_z0[pos] += d_t9_2;
    }
    for _ in ::backprop::__private::rev(0..(k.unsigned_abs() as usize)) {
        let z0_3 = saved_1.pop();
        let mut d_z1 = [0.0_f64; 3];
        ::backprop::__private::add_assign(&mut d_z1, &d_z0);
        ::backprop::__private::fill(&mut d_z0, 0.0);
        for i1_1 in ::backprop::__private::rev(0..5) {
            let t30 = ((i1_1 % 3) + 2) % 3;
            let t31 = z0_3[t30];
            let t32 = i1_1 as f64;
            let t33 = i1_1 % 3;
            let t34 = wa[t33];
            let t35 = t32.min(t34);
            let t36 = i1_1 as f64;
            let t37 = i1_1 as f64 + (i1_1 as f64 * i1_1 as f64 + 0.125);
            let t38 = t35.clamp(t36, t37);
            let t39 = t31 * t38;
            let t40 = i1_1 % 3;
            let t41 = z0_3[t40];
            let t42 = ((i1_1 % 3) + 1) % 3;
            let t43 = (t39 * t41 + z0_3[t42]).tanh();
            let t44 = i1_1 % 3;
            let t45 = d_z1[t44];
            d_z1[t44] = 0.0;
            let t46 = 1.2 * t45 * (1.0 - t43 * t43);
            d_z0[t42] += t46;
            let d_t39 = t46 * t41;
            d_z0[t40] += t46 * t39;
            let d_t38 = d_t39 * t31;
            let t47 = t35.min(t37);
            let t48 =
                if t47 > t36 {
                    1.0
                } else if t47 == t36 {
                    0.5
                } else if t36.is_nan() { 1.0 } else { 0.0 };
            let d_t35 =
                if t35 < t37 {
                    if t47 > t36 {
                        d_t38
                    } else if t47 == t36 {
                        0.5 * d_t38
                    } else if t36.is_nan() { d_t38 } else { 0.0 }
                } else {
                    d_t38 *
                        (if t35 == t37 {
                                0.5 * t48
                            } else if t37.is_nan() { t48 } else { 0.0 })
                };
            d_wa[t33] +=
                if t34 < t32 {
                    d_t35
                } else if t34 == t32 {
                    0.5 * d_t35
                } else if t32.is_nan() { d_t35 } else { 0.0 };
            d_z0[t30] += d_t39 * t38;
        }
        ::backprop::__private::add_assign(&mut d_z0, &d_z1);
    }
    let mut d_v0: f64 = 0.0;
    for i0_3 in ::backprop::__private::rev(0..(k.unsigned_abs() as usize)) {
        let mut z0_4 = saved.pop();
        let (t50, t51, t52, t53, t54, t55, t56, t57, __grad_unnamed_374):
                (f64, f64, f64, f64, f64, f64, f64, f64, f64) =
            if flag {
                let t60 = i0_3 % 3;
                let t50 = wa[t60];
                let t51 = v0 / t50;
                z0_4[2] = t51;
                (t50, t51, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
            } else {
                let t52 = K + v0;
                let t53 = K + v0;
                let t54 = t52 * t53 + 0.5;
                let t55 = wa[2];
                let t56 = wa[2];
                let t57 = t55 * t56 + 1.5;
                let t61 = i0_3 % 3;
                let t62 = t61 + 2;
                (0.0, 0.0, t52, t53, t54, t55, t56, t57, t54.log(t57))
            };
        let d_v0_1: f64 =
            if flag {
                let t60 = i0_3 % 3;
                let d_t51 = d_z0[2];
                d_z0[2] = 0.0;
                d_wa[t60] += -(d_t51 * t51 / t50);
                d_t51 / t50
            } else {
                let t61 = i0_3 % 3;
                let t62 = t61 + 2;
                let d_z1_1 = [0.0_f64; 3];
                let t63 = d_z1_1[t62 % 3];
                let t64 = t57.ln();
                let d_t54 = t63 / (t54 * t64);
                let t65 = t63 * (__grad_unnamed_374 / (t57 * t64));
                d_wa[2] += -(t65 * t55);
                d_wa[2] += -(t65 * t56);
                ::backprop::__private::add_assign(&mut d_z0, &d_z1_1);
                d_t54 * t52 + d_t54 * t53
            };
        d_v0 += d_v0_1;
    }
    ::backprop::__private::add_assign(&mut d_wa, &d_z0);
    let t66 = w1.min(t8);
    let t67 =
        if t66 > t0 {
            1.0
        } else if t66 == t0 { 0.5 } else if t0.is_nan() { 1.0 } else { 0.0 };
    let t68 = 0.5 * t67;
    let t69 = 0.5 * d_v0;
    let t70 =
        if t66 > t0 {
            d_v0
        } else if t66 == t0 { t69 } else if t0.is_nan() { d_v0 } else { 0.0 };
    let d_w1 =
        if w1 < t8 {
            t70
        } else {
            d_v0 *
                (if w1 == t8 { t68 } else if t8.is_nan() { t67 } else { 0.0 })
        };
    let d_t0 =
        if t0 > t66 {
            d_v0
        } else if t0 == t66 {
            t69
        } else if t66.is_nan() { d_v0 } else { 0.0 };
    let d_t8 =
        if t8 < w1 {
            t70
        } else {
            d_v0 *
                (if t8 == w1 { t68 } else if w1.is_nan() { t67 } else { 0.0 })
        };
    let d_w0: f64 = if c2 { d_t8 } else { 0.0 };
    let d_w0_1: f64 = if c1 { d_t0 } else { 0.0 };
    let d_w0_2 = v1 - d_t10 * t10 / w0 + d_w0 + d_w0_1;
    (v1 * w0 + t20.atanh(), (d_w0_2, d_w1, d_wa))
}

const K: f64 = 0.75;
fn main() {
    let (a0, a1, a2, a3, a4, a5) = std::hint::black_box((0.9603965448441731, -1.1072891128805304, [-1.1470491242231278, -0.28236181575676855, -0.9315882422552535], [0.005600397063769168, -0.4188965496245704, 1.0075026010178787, -0.7921693204071865], 2, true));
    println!("{:?}", va_value_and_grad(a0, a1, a2, a3, a4, a5));
}
