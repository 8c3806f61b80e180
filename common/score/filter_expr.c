#include "filter_expr.h"

#include "../util/number.h"

#include <stdlib.h>
#include <string.h>

enum { V_NUM, V_STR, V_COL };
enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum { N_OR, N_AND, N_NOT, N_CMP };

typedef struct value {
	int kind;
	double num;
	char *str; /* V_STR: the string; V_COL: the column's name */
	int col;   /* V_COL: index in the header, after bind */
} value;

typedef struct node {
	int kind;
	struct node *a, *b; /* N_OR, N_AND: both; N_NOT: a */
	int op;             /* N_CMP */
	value l, r;
	const char *text; /* where the comparison starts in the source, for messages */
	int len;
} node;

struct sora_filter_expr {
	char *src;
	node *root;
};

typedef struct parser {
	const char *src, *p;
	sora_err *e;
	int depth; /* nesting of ( and !, bounded so that no expression can exhaust the stack */
} parser;

enum { MAX_DEPTH = 1000 };

static void node_free(node *n)
{
	if (!n)
		return;
	node_free(n->a);
	node_free(n->b);
	free(n->l.str);
	free(n->r.str);
	free(n);
}

void sora_filter_free(sora_filter_expr *x)
{
	if (!x)
		return;
	node_free(x->root);
	free(x->src);
	free(x);
}

/* Messages quote at most this much of an expression, so that the reason always fits. */
#define QUOTE     "'%.60s%s'"
#define QUOTE_(s) (s), strlen(s) > 60 ? "..." : ""

static int syntax(parser *ps, const char *what)
{
	const char *p = ps->p;
	if (!*p)
		return SORA_FAIL(ps->e, "expression " QUOTE ": %s, found the end", QUOTE_(ps->src), what);
	return SORA_FAIL(ps->e, "expression " QUOTE ": at column %d: %s, found '%.12s'", QUOTE_(ps->src),
			 (int)(p - ps->src) + 1, what, p);
}

static void skip(parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

/* Consumes tok (after spaces) when it is next. */
static int accept(parser *ps, const char *tok)
{
	skip(ps);
	size_t n = strlen(tok);
	if (strncmp(ps->p, tok, n) != 0)
		return 0;
	ps->p += n;
	return 1;
}

static int is_ident(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && ((c >= '0' && c <= '9') || c == '.'));
}

static int parse_quoted(parser *ps, char q, char **out)
{
	const char *p = ps->p + 1;
	size_t n = 0;
	char *s = malloc(strlen(p) + 1);
	CHECK_ALLOC(ps->e, s);
	for (; *p && *p != q; p++) {
		if (*p == '\\' && q != '`' && (p[1] == '\\' || p[1] == '"' || p[1] == '\''))
			p++;
		s[n++] = *p;
	}
	if (!*p) {
		free(s);
		return syntax(ps, q == '`' ? "unterminated `name`" : "unterminated string");
	}
	s[n] = 0;
	ps->p = p + 1;
	*out = s;
	return 0;
fail:
	return -1;
}

static int parse_value(parser *ps, value *v)
{
	skip(ps);
	const char *p = ps->p;
	memset(v, 0, sizeof *v);
	v->col = -1;
	if (*p == '"' || *p == '\'') {
		v->kind = V_STR;
		return parse_quoted(ps, *p, &v->str);
	}
	if (*p == '`') {
		v->kind = V_COL;
		return parse_quoted(ps, '`', &v->str);
	}
	if (is_ident(*p, 1)) {
		const char *s = p;
		while (is_ident(*p, 0))
			p++;
		v->kind = V_COL;
		v->str = strndup(s, (size_t)(p - s));
		ps->p = p;
		if (!v->str)
			return SORA_FAIL(ps->e, "out of memory");
		return 0;
	}
	/* A number: the longest run of characters a decimal literal can hold, then checked strictly. */
	const char *s = p;
	if (*p == '-' || *p == '+')
		p++;
	while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
	       ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')))
		p++;
	char buf[64];
	size_t n = (size_t)(p - s);
	if (n == 0 || n >= sizeof buf)
		return syntax(ps, "expected a number, a \"string\" or a column name");
	memcpy(buf, s, n);
	buf[n] = 0;
	if (!sora_parse_number(buf, &v->num))
		return syntax(ps, "expected a number, a \"string\" or a column name");
	v->kind = V_NUM;
	ps->p = p;
	return 0;
}

static node *new_node(parser *ps, int kind)
{
	node *n = calloc(1, sizeof *n);
	if (!n)
		SORA_FAIL(ps->e, "out of memory");
	else
		n->kind = kind;
	return n;
}

static node *parse_or(parser *ps);
static node *parse_nested(parser *ps);

static node *parse_compare(parser *ps)
{
	static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">"};
	static const int codes[] = {OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT};
	node *n = new_node(ps, N_CMP);
	if (!n)
		return NULL;
	skip(ps);
	n->text = ps->p;
	TRY(parse_value(ps, &n->l));
	int op = -1;
	for (int i = 0; i < 6 && op < 0; i++)
		if (accept(ps, ops[i]))
			op = codes[i];
	if (op < 0) {
		skip(ps);
		syntax(ps, *ps->p == '=' ? "expected a comparison ('=' is written '==')"
					 : "expected a comparison: == != < <= > >=");
		goto fail;
	}
	n->op = op;
	TRY(parse_value(ps, &n->r));
	n->len = (int)(ps->p - n->text);
	if ((n->l.kind == V_NUM && n->r.kind == V_STR) || (n->l.kind == V_STR && n->r.kind == V_NUM)) {
		SORA_FAIL(ps->e, "expression " QUOTE ": '%.*s' compares a number with a string",
			  QUOTE_(ps->src), n->len, n->text);
		goto fail;
	}
	return n;
fail:
	node_free(n);
	return NULL;
}

static node *parse_not(parser *ps)
{
	skip(ps);
	if ((*ps->p == '(' || *ps->p == '!') && ps->depth >= MAX_DEPTH) {
		syntax(ps, "nested too deeply");
		return NULL;
	}
	ps->depth++;
	node *n = parse_nested(ps);
	ps->depth--;
	return n;
}

static node *parse_nested(parser *ps)
{
	if (accept(ps, "!")) {
		if (*ps->p == '=') {
			ps->p--;
			syntax(ps, "expected a value before '!='");
			return NULL;
		}
		node *n = new_node(ps, N_NOT);
		if (n && !(n->a = parse_not(ps))) {
			node_free(n);
			return NULL;
		}
		return n;
	}
	if (accept(ps, "(")) {
		node *n = parse_or(ps);
		if (n && !accept(ps, ")")) {
			syntax(ps, "expected ')'");
			node_free(n);
			return NULL;
		}
		return n;
	}
	return parse_compare(ps);
}

static node *parse_binary(parser *ps, int kind)
{
	const char *tok = kind == N_OR ? "||" : "&&";
	node *l = kind == N_OR ? parse_binary(ps, N_AND) : parse_not(ps);
	while (l && accept(ps, tok)) {
		node *n = new_node(ps, kind);
		if (!n) {
			node_free(l);
			return NULL;
		}
		n->a = l;
		n->b = kind == N_OR ? parse_binary(ps, N_AND) : parse_not(ps);
		if (!n->b) {
			node_free(n);
			return NULL;
		}
		l = n;
	}
	return l;
}

static node *parse_or(parser *ps)
{
	return parse_binary(ps, N_OR);
}

int sora_filter_parse(sora_filter_expr **out, const char *src, sora_err *e)
{
	sora_filter_expr *x = NULL;
	*out = NULL;
	CHECK_ALLOC(e, x = calloc(1, sizeof *x));
	CHECK_ALLOC(e, x->src = strdup(src));
	parser ps = {x->src, x->src, e, 0};
	x->root = parse_or(&ps);
	if (!x->root)
		goto fail;
	skip(&ps);
	if (*ps.p) {
		syntax(&ps, "expected && || or the end");
		goto fail;
	}
	*out = x;
	return 0;
fail:
	sora_filter_free(x);
	return -1;
}

static int bind_value(const sora_filter_expr *x, value *v, const sora_fields *header, sora_err *e)
{
	if (v->kind != V_COL)
		return 0;
	v->col = sora_fields_find(header, v->str);
	if (v->col < 0)
		return SORA_FAIL(e, "expression " QUOTE ": no column '%.100s' in the input", QUOTE_(x->src),
				 v->str);
	return 0;
}

static int bind_node(const sora_filter_expr *x, node *n, const sora_fields *header, sora_err *e)
{
	if (!n)
		return 0;
	if (n->kind == N_CMP)
		return bind_value(x, &n->l, header, e) < 0 || bind_value(x, &n->r, header, e) < 0 ? -1 : 0;
	return bind_node(x, n->a, header, e) < 0 || bind_node(x, n->b, header, e) < 0 ? -1 : 0;
}

int sora_filter_bind(sora_filter_expr *x, const sora_fields *header, sora_err *e)
{
	return bind_node(x, x->root, header, e);
}

static int holds(int op, int c)
{
	switch (op) {
	case OP_EQ:
		return c == 0;
	case OP_NE:
		return c != 0;
	case OP_LT:
		return c < 0;
	case OP_LE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

static const char *text_of(const value *v, char *const *row)
{
	return v->kind == V_COL ? row[v->col] : v->str;
}

static int number_of(const node *n, const value *v, char *const *row, double *x, sora_err *e)
{
	if (v->kind == V_NUM) {
		*x = v->num;
		return 0;
	}
	if (sora_parse_number(row[v->col], x))
		return 0;
	return SORA_FAIL(e, "%.*s: column '%.100s' is not a number: '%.40s'", n->len > 100 ? 100 : n->len,
			 n->text, v->str, row[v->col]);
}

static int compare(const node *n, char *const *row, sora_err *e)
{
	const value *l = &n->l, *r = &n->r;
	double a, b;
	int numeric = l->kind == V_NUM || r->kind == V_NUM;
	if (!numeric && l->kind == V_COL && r->kind == V_COL)
		numeric = sora_parse_number(row[l->col], &a) && sora_parse_number(row[r->col], &b);
	if (!numeric)
		return holds(n->op, strcmp(text_of(l, row), text_of(r, row)));
	if (number_of(n, l, row, &a, e) < 0 || number_of(n, r, row, &b, e) < 0)
		return -1;
	return holds(n->op, (a > b) - (a < b));
}

static int eval(const node *n, char *const *row, sora_err *e)
{
	int a;
	switch (n->kind) {
	case N_CMP:
		return compare(n, row, e);
	case N_NOT:
		a = eval(n->a, row, e);
		return a < 0 ? -1 : !a;
	case N_AND:
		a = eval(n->a, row, e);
		return a <= 0 ? a : eval(n->b, row, e);
	default:
		a = eval(n->a, row, e);
		return a != 0 ? a : eval(n->b, row, e);
	}
}

int sora_filter_eval(const sora_filter_expr *x, char *const *row, sora_err *e)
{
	return eval(x->root, row, e);
}
