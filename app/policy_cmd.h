#ifndef BULWARK_POLICY_CMD_H
#define BULWARK_POLICY_CMD_H

#define BULWARK_POLICY_SYNOPSIS "bulwark policy check FILE | bulwark policy keys | bulwark policy rules"

/* argv after "policy"; returns the exit status */
int bulwark_policy_command(int argc, char **argv);

#endif
