/* list.c: a singly linked list of integers (reference solution). */
#include "list.h"

#include <stdlib.h>

struct node {
    long value;
    struct node *next;
};

struct list {
    struct node *head;
    struct node *tail;
    size_t length;
};

struct list *list_new(void)
{
    return calloc(1, sizeof(struct list));
}

void list_free(struct list *list)
{
    if (list == NULL)
        return;
    struct node *node = list->head;
    while (node != NULL) {
        struct node *next = node->next;
        free(node);
        node = next;
    }
    free(list);
}

static struct node *node_new(long value, struct node *next)
{
    struct node *node = malloc(sizeof *node);
    if (node != NULL) {
        node->value = value;
        node->next = next;
    }
    return node;
}

int list_append(struct list *list, long value)
{
    struct node *node = node_new(value, NULL);
    if (node == NULL)
        return -1;
    if (list->tail == NULL)
        list->head = node;
    else
        list->tail->next = node;
    list->tail = node;
    list->length++;
    return 0;
}

int list_prepend(struct list *list, long value)
{
    struct node *node = node_new(value, list->head);
    if (node == NULL)
        return -1;
    list->head = node;
    if (list->tail == NULL)
        list->tail = node;
    list->length++;
    return 0;
}

int list_pop_front(struct list *list, long *out)
{
    struct node *node = list->head;
    if (node == NULL)
        return -1;
    *out = node->value;
    list->head = node->next;
    if (list->head == NULL)
        list->tail = NULL;
    list->length--;
    free(node);
    return 0;
}

size_t list_length(const struct list *list)
{
    return list->length;
}

long list_sum(const struct list *list)
{
    long sum = 0;
    for (const struct node *node = list->head; node != NULL; node = node->next)
        sum += node->value;
    return sum;
}

void list_reverse(struct list *list)
{
    struct node *previous = NULL;
    struct node *node = list->head;
    list->tail = node;
    while (node != NULL) {
        struct node *next = node->next;
        node->next = previous;
        previous = node;
        node = next;
    }
    list->head = previous;
}

void list_print(const struct list *list, FILE *out)
{
    if (list->head == NULL) {
        fputs("(empty)\n", out);
        return;
    }
    for (const struct node *node = list->head; node != NULL; node = node->next)
        fprintf(out, node == list->head ? "%ld" : " %ld", node->value);
    fputc('\n', out);
}
