/**
 * Property-based tests run with random seeds locally (fast-check prints the seed of a failure),
 * and with a fixed one when FC_SEED is set (scripts/test.sh sets it under CI), so that a CI run
 * is reproducible and a new counterexample is found by developers rather than by chance in CI.
 */
import fc from "fast-check";

const seed = process.env.FC_SEED;
if (seed !== undefined && seed !== "") fc.configureGlobal({ seed: Number(seed) });
