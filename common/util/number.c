#include "number.h"

#include <math.h>
#include <stdlib.h>

static int digits(const char **p)
{
	const char *s = *p;
	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > s;
}

int sora_parse_number(const char *s, double *x)
{
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *begin = p;
	if (*p == '+' || *p == '-')
		p++;
	int whole = digits(&p), frac = 0;
	if (*p == '.') {
		p++;
		frac = digits(&p);
	}
	if (!whole && !frac)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!digits(&p))
			return 0;
	}
	const char *end = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return 0;
	char *stop;
	double v = strtod(begin, &stop);
	if (stop != end || !isfinite(v))
		return 0;
	*x = v;
	return 1;
}
