/* SPDX-License-Identifier: Apache-2.0 */
/* Job and checkpoint name rules, and the generator of memorable job names ("famous_hopper7")
 * for jobs started without --name. */

#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "macro.h"
#include "naming.h"

#define CHECKPOINT_NAME_MAX_LEN 200

static const char *const adjectives[] = {
        "admiring",    "adoring",     "affectionate", "amazing",     "awesome",     "beautiful",
        "blissful",    "bold",        "brave",        "busy",        "charming",    "cheerful",
        "clever",      "compassionate", "competent",  "confident",   "cool",        "curious",
        "dazzling",    "determined",  "diligent",     "dreamy",      "eager",       "ecstatic",
        "elastic",     "elated",      "elegant",      "eloquent",    "epic",        "exciting",
        "fervent",     "festive",     "flamboyant",   "focused",     "friendly",    "frosty",
        "funny",       "gallant",     "generous",     "gentle",      "gifted",      "goofy",
        "gracious",    "great",       "happy",        "hardcore",    "heuristic",   "hopeful",
        "humble",      "infallible",  "inspiring",    "intelligent", "interesting", "jolly",
        "jovial",      "keen",        "kind",         "laughing",    "loving",      "lucid",
        "magical",     "modest",      "musing",       "mystifying",  "nifty",       "nimble",
        "nostalgic",   "objective",   "optimistic",   "patient",     "peaceful",    "pensive",
        "playful",     "practical",   "priceless",    "quirky",      "quizzical",   "radiant",
        "recursing",   "relaxed",     "resilient",    "reverent",    "romantic",    "serene",
        "sharp",       "sincere",     "sleepy",       "steady",      "stoic",       "sweet",
        "tender",      "thoughtful",  "trusting",     "unruffled",   "upbeat",      "vibrant",
        "vigilant",    "vigorous",    "wizardly",     "wonderful",   "xenodochial", "youthful",
        "zealous",     "zen",
};

static const char *const surnames[] = {
        "adleman",     "allen",       "archimedes",   "babbage",     "backus",      "bardeen",
        "bell",        "bohr",        "boltzmann",    "bose",        "brattain",    "carson",
        "cauchy",      "cerf",        "chandrasekhar", "copernicus", "crick",       "curie",
        "darwin",      "diffie",      "dijkstra",     "dirac",       "edison",      "einstein",
        "elion",       "engelbart",   "euclid",       "euler",       "faraday",     "fermi",
        "feynman",     "fibonacci",   "fleming",      "fourier",     "franklin",    "galileo",
        "gauss",       "goldwasser",  "goodall",      "hamilton",    "hamming",     "hawking",
        "heisenberg",  "hellman",     "hilbert",      "hoare",       "hodgkin",     "hopper",
        "hubble",      "hypatia",     "jackson",      "jenner",      "johnson",     "kahn",
        "kay",         "kepler",      "kernighan",    "kilby",       "knuth",       "lagrange",
        "lamarr",      "lamport",     "laplace",      "leavitt",     "leibniz",     "liskov",
        "lovelace",    "maxwell",     "mcclintock",   "meitner",     "mendel",      "merkle",
        "micali",      "minsky",      "moore",        "newton",      "noether",     "noyce",
        "nyquist",     "pascal",      "pasteur",      "pauli",       "payne",       "perlman",
        "pike",        "planck",      "raman",        "ramanujan",   "riemann",     "ritchie",
        "rivest",      "rubin",       "sagan",        "salk",        "shamir",      "shannon",
        "stroustrup",  "sutherland",  "tesla",        "thompson",    "torvalds",    "turing",
        "vaughan",     "wilkes",      "wirth",        "wozniak",     "wu",          "yalow",
};

static bool char_is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Both names end up as file names and unit/bus path components: a small alphabet, no leading
 * punctuation (no hidden files, no option look-alikes), no ".." anywhere. */
static bool name_is_valid(const char *name, size_t max_len) {
        size_t n = 0;

        if (!name || !char_is_alnum(name[0]))
                return false;
        for (const char *p = name; *p; p++, n++) {
                if (n >= max_len)
                        return false;
                if (!char_is_alnum(*p) && !strchr("-._", *p))
                        return false;
        }
        return !strstr(name, "..");
}

bool job_name_is_valid(const char *name) {
        return name_is_valid(name, NAME_MAX_LEN);
}

bool checkpoint_name_is_valid(const char *name) {
        return name_is_valid(name, CHECKPOINT_NAME_MAX_LEN);
}

/* A user name as USER/NAME: what useradd accepts, and never "." or ".." or an option. */
static bool user_prefix_is_valid(const char *s, size_t l) {
        if (l == 0 || l > 32 || s[0] == '.' || s[0] == '-')
                return false;
        for (size_t i = 0; i < l; i++)
                if (!char_is_alnum(s[i]) && !strchr("-._", s[i]))
                        return false;
        return true;
}

static bool spec_is_valid(const char *spec, bool (*valid)(const char *)) {
        const char *slash = spec ? strchr(spec, '/') : NULL;
        if (!slash)
                return valid(spec);
        return user_prefix_is_valid(spec, (size_t) (slash - spec)) && valid(slash + 1);
}

bool job_spec_is_valid(const char *spec) {
        return spec_is_valid(spec, job_name_is_valid);
}

bool checkpoint_spec_is_valid(const char *spec) {
        return spec_is_valid(spec, checkpoint_name_is_valid);
}

/* Names need to be hard to guess only as far as two jobs should rarely collide; the caller
 * checks for collisions anyway. So never block on an uninitialized entropy pool at early
 * boot, and fall back to the clock where getrandom() is unavailable. */
static uint64_t random_u64(void) {
        uint64_t v;
        ssize_t n;

        do
                n = getrandom(&v, sizeof(v), GRND_NONBLOCK);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t) sizeof(v))
                return v;

        struct timespec ts = {};
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        v = (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 32) ^ ((uint64_t) getpid() << 16);
        /* splitmix64 finalizer, so that consecutive calls differ in every position. */
        v = (v ^ (v >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        v = (v ^ (v >> 27)) * UINT64_C(0x94d049bb133111eb);
        return v ^ (v >> 31);
}

int job_name_generate(char **ret) {
        uint64_t r = random_u64();
        size_t a, s;
        unsigned d;
        char *name;

        /* The modulo bias of a 64-bit value over ~100 words is far below anything a user could
         * notice. */
        a = (size_t) (r % ELEMENTSOF(adjectives));
        r /= ELEMENTSOF(adjectives);
        s = (size_t) (r % ELEMENTSOF(surnames));
        r /= ELEMENTSOF(surnames);
        d = (unsigned) (r % 10);

        if (asprintf(&name, "%s_%s%u", adjectives[a], surnames[s], d) < 0)
                return -ENOMEM;
        *ret = name;
        return 0;
}
