#include "init_corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t sora_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

#define COUNT(a) (int)(sizeof(a) / sizeof *(a))

/* The caption vocabulary: what Open-Sora's captions talk about (subjects, actions, places, camera,
 * light, style), a few hundred words, enough for a unigram model of about a thousand pieces. */
static const char *const openers[] = {"A",       "The",     "Two",    "Three",   "Several",
				      "A small", "A large", "An old", "A young", "A group of"};
static const char *const adjectives[] = {
    "red",      "blue",     "green",   "golden",   "silver",     "white",    "black",   "bright",
    "dark",     "quiet",    "busy",    "colorful", "wooden",     "ancient",  "modern",  "tiny",
    "gigantic", "fluffy",   "shiny",   "rusty",    "misty",      "snowy",    "sandy",   "rocky",
    "curious",  "playful",  "elegant", "graceful", "mysterious", "peaceful", "crowded", "abandoned",
    "glowing",  "floating", "frozen",  "wet",      "dusty",      "striped",  "spotted", "transparent",
    "vintage",  "neon",     "rural",   "urban",    "tropical",   "autumnal", "wintry",  "sunlit",
    "cheerful", "lonely",   "vivid",   "pale",     "enormous",   "delicate", "rough",   "smooth"};
static const char *const nouns[] = {
    "cat",      "dog",     "horse",     "bird",     "fox",          "rabbit",     "panda",    "elephant",
    "dolphin",  "whale",   "butterfly", "bee",      "child",        "woman",      "man",      "dancer",
    "musician", "chef",    "cyclist",   "surfer",   "skateboarder", "astronaut",  "robot",    "car",
    "train",    "bicycle", "boat",      "airplane", "balloon",      "kite",       "lantern",  "candle",
    "flower",   "tree",    "forest",    "mountain", "river",        "waterfall",  "lake",     "ocean",
    "wave",     "beach",   "desert",    "canyon",   "glacier",      "volcano",    "city",     "street",
    "market",   "bridge",  "tower",     "castle",   "temple",       "village",    "garden",   "field",
    "meadow",   "island",  "cloud",     "storm",    "sunset",       "sunrise",    "galaxy",   "planet",
    "fountain", "library", "kitchen",   "stadium",  "harbor",       "lighthouse", "windmill", "tunnel"};
static const char *const verbs[] = {
    "walks along",     "runs across", "flies over",    "swims through", "jumps over",
    "rests beside",    "dances in",   "plays near",    "drifts above",  "climbs up",
    "wanders through", "races down",  "glides across", "sits on",       "looks out over",
    "spins around",    "splashes in", "hides behind",  "rolls down",    "waits at",
    "sails past",      "crosses",     "circles above", "explores",      "moves slowly through"};
static const char *const places[] = {
    "a quiet street",    "a snowy forest",   "a crowded market", "a sandy beach",   "a misty valley",
    "a golden field",    "a rocky shore",    "a city square",    "a mountain lake", "an empty road",
    "a tropical island", "a neon-lit alley", "a green meadow",   "a frozen river",  "a desert canyon",
    "an old harbor",     "a flower garden",  "a train station",  "a busy kitchen",  "a starry sky",
    "a small village",   "a bamboo grove",   "a coral reef",     "a wheat field",   "a rainy avenue"};
static const char *const cameras[] = {
    "The camera pans slowly to the left", "The camera tracks the subject",
    "The camera zooms in gently",         "The camera stays still",
    "A drone shot rises above the scene", "The camera tilts up",
    "A handheld shot follows closely",    "The camera orbits around",
    "A wide shot shows the whole scene",  "A close-up reveals fine details",
    "The camera dollies forward",         "A slow-motion shot captures the movement"};
static const char *const lights[] = {"in warm golden hour light",
				     "under a cloudy sky",
				     "at night with soft street lights",
				     "in bright midday sun",
				     "in the blue hour",
				     "with dramatic shadows",
				     "in soft diffused light",
				     "under colorful lights",
				     "in the early morning fog",
				     "with sunlight through the leaves",
				     "during a light rain",
				     "under a full moon"};
static const char *const styles[] = {"cinematic",
				     "realistic",
				     "documentary style",
				     "animated",
				     "watercolor style",
				     "film grain",
				     "high contrast",
				     "pastel colors",
				     "black and white",
				     "4k detail",
				     "shallow depth of field",
				     "wide angle",
				     "time-lapse",
				     "vintage film look",
				     "dreamlike"};

static const char *pick(uint64_t *s, const char *const *words, int n)
{
	return words[sora_rng_next(s) % (uint64_t)n];
}

int sora_corpus_make(sora_corpus *c, int n, uint64_t seed, sora_err *e)
{
	uint64_t s = seed;
	char buf[512];
	c->n = 0;
	CHECK_ALLOC(e, c->lines = calloc((size_t)n, sizeof *c->lines));
	for (int i = 0; i < n; i++) {
		int k = snprintf(buf, sizeof buf, "%s %s %s %s %s.", pick(&s, openers, COUNT(openers)),
				 pick(&s, adjectives, COUNT(adjectives)), pick(&s, nouns, COUNT(nouns)),
				 pick(&s, verbs, COUNT(verbs)), pick(&s, places, COUNT(places)));
		if (sora_rng_next(&s) % 2)
			k += snprintf(buf + k, sizeof buf - (size_t)k, " %s %s.",
				      pick(&s, cameras, COUNT(cameras)), pick(&s, lights, COUNT(lights)));
		if (sora_rng_next(&s) % 3 == 0)
			snprintf(buf + k, sizeof buf - (size_t)k, " %s, %s.", pick(&s, styles, COUNT(styles)),
				 pick(&s, styles, COUNT(styles)));
		CHECK_ALLOC(e, c->lines[i] = strdup(buf));
		c->n++;
	}
	return 0;
fail:
	sora_corpus_free(c);
	return -1;
}

void sora_corpus_free(sora_corpus *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->lines[i]);
	free(c->lines);
	c->lines = NULL;
	c->n = 0;
}
