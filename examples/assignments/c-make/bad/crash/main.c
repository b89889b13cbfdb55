/* main.c: a tiny command interpreter around the list (reference solution). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"

static void run(struct list *list, const char *command, const char *argument)
{
    char *end;
    if (strcmp(command, "append") == 0 || strcmp(command, "prepend") == 0) {
        long value = argument ? strtol(argument, &end, 10) : 0;
        if (argument == NULL || *end != '\0') {
            printf("error: %s needs a number\n", command);
            return;
        }
        int status = command[0] == 'a' ? list_append(list, value) : list_prepend(list, value);
        if (status != 0)
            printf("error: out of memory\n");
    } else if (strcmp(command, "pop") == 0) {
        long value;
        if (list_pop_front(list, &value) == 0)
            printf("%ld\n", value);
        else
            printf("error: empty\n");
    } else if (strcmp(command, "sum") == 0) {
        printf("%ld\n", list_sum(list));
    } else if (strcmp(command, "length") == 0) {
        printf("%zu\n", list_length(list));
    } else if (strcmp(command, "reverse") == 0) {
        list_reverse(list);
    } else if (strcmp(command, "print") == 0) {
        list_print(list, stdout);
    } else {
        printf("error: unknown command %s\n", command);
    }
}

int main(void)
{
    struct list *list = list_new();
    if (list == NULL)
        return 1;
    char line[256];
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *command = strtok(line, " \t\r\n");
        if (command == NULL)
            continue;
        char *argument = strtok(NULL, " \t\r\n");
        run(list, command, argument);
    }
    list_free(list);
    return 0;
}
