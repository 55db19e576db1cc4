/* Template body of the typed neuron kernels; see snnc_neuron.h.
 * Included by snnc_neuron.c with SNNC_X / SNNC_X_T (current) and either SNNC_NEURON_LIF plus
 * SNNC_S / SNNC_S_T (state), or SNNC_NEURON_MULTILEVEL plus SNNC_O / SNNC_O_T (levels). */

#ifdef SNNC_NEURON_LIF
SNNC_NEURON_PROTO(SNNC_X, SNNC_X_T, SNNC_S, SNNC_S_T)
{
    for (int32_t i = 0; i < p->count; ++i) {
        const int64_t a = snnc_shl((int64_t)current[i], SNNC_INPUT_SHIFT);
        int64_t drive;
        if (u != NULL) {
            const int64_t du = (int64_t)p->du[i * p->du_stride] + SNNC_CURRENT_DECAY_OFFSET;
            const int64_t un = snnc_overflow_u(snnc_decay(u[i], du) + a);
            u[i] = (SNNC_S_T)un;
            drive = snnc_decay(v[i], p->dv[i * p->dv_stride]) + un;
        } else {
#if SNNC_LIF_CURRENT_REGISTER
            drive = snnc_decay(v[i], p->dv[i * p->dv_stride]) + snnc_overflow_u(a);
#else
            drive = snnc_decay(v[i], p->dv[i * p->dv_stride]) + a;
#endif
        }
        if (p->bias != NULL) {
            drive += snnc_shl(p->bias[i * p->bias_stride], SNNC_INPUT_SHIFT);
        }
        drive = snnc_overflow_v(drive);
        const int64_t theta = snnc_shl(p->vth[i * p->vth_stride], SNNC_THRESHOLD_SHIFT);
        int64_t fired;
        int64_t vn;
#if SNNC_GRADED
        if (p->graded_max > 0) {
            fired = snnc_graded_count(drive, theta, p->graded_max);
            vn = drive - theta * fired;
        } else
#endif
        if (p->reset_next) {
            vn = snnc_reset(drive, snnc_fires(v[i], theta, p->compare_ge), theta, p->reset);
            fired = snnc_fires(vn, theta, p->compare_ge);
        } else {
            fired = snnc_fires(drive, theta, p->compare_ge);
            vn = snnc_reset(drive, (int)fired, theta, p->reset);
        }
        v[i] = (SNNC_S_T)vn;
        spikes[i] = (int8_t)fired;
    }
}
#undef SNNC_NEURON_LIF
#endif

#ifdef SNNC_NEURON_MULTILEVEL
SNNC_MULTILEVEL_PROTO(SNNC_X, SNNC_X_T, SNNC_O, SNNC_O_T)
{
    if (p->constant) {
        const int32_t total = p->outer * p->n * p->inner;
        for (int32_t i = 0; i < total; ++i) {
            const int64_t top = 2 * (int64_t)current[i] + p->vth;
            levels[i] = (SNNC_O_T)snnc_level(top, 2 * p->vth, p->levels);
        }
        return;
    }
    const int64_t scale = snnc_shl(p->n, SNNC_ALPHA_FRAC_BITS);
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t k = 0; k < p->inner; ++k) {
            const size_t base = (size_t)o * (size_t)(p->n * p->inner) + (size_t)k;
            int64_t total = 0;
            for (int32_t j = 0; j < p->n; ++j) {
                const int64_t x = current[base + (size_t)j * (size_t)p->inner];
                total += x < 0 ? -x : x;
            }
            /* theta = theta_num / (n * 2^k): compare 2 I n 2^k + theta_num against 2 theta_num */
            const int64_t theta_num = p->alpha_mant * total;
            for (int32_t j = 0; j < p->n; ++j) {
                const size_t at = base + (size_t)j * (size_t)p->inner;
                const int64_t top = 2 * (int64_t)current[at] * scale + theta_num;
                levels[at] = (SNNC_O_T)snnc_level(top, 2 * theta_num, p->levels);
            }
        }
    }
}
#undef SNNC_NEURON_MULTILEVEL
#endif

#undef SNNC_X
#undef SNNC_X_T
#undef SNNC_S
#undef SNNC_S_T
#undef SNNC_O
#undef SNNC_O_T
